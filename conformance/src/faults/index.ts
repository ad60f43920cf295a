/** The I/O fault sweep: fault every file operation of a short workload and check what the engine does. */
export { runFaultSweep, sweepTarget } from './run-fault-sweep.js';
export type { FaultSweepOptions, FaultMechanism } from './run-fault-sweep.js';
export { faultyFileSystem, FAULT_MODES } from './faulty-fs.js';
export type { FaultMode, FaultPlan, FaultyFileSystem, InjectedFault } from './faulty-fs.js';
export { NATIVE_SYSCALLS, NATIVE_ERRNOS, straceVersion } from './strace-sweep.js';
export { SWEEP_STEPS } from './sweep-workload.js';
export type { SweepStep } from './sweep-workload.js';
