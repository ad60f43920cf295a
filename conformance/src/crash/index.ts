/** The kill -9 crash harness: run a writer child, SIGKILL it, reopen and check the invariants. */
export { runKillLoop, formatKillLoopReport } from './kill-loop.js';
export type { KillLoopOptions, KillLoopReport, CycleReport, Violation } from './kill-loop.js';
export { WRITER_MODULE } from './writer-process.js';
export type { KillPlan } from './writer-process.js';
