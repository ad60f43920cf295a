/** The corruption sweep: damage every kind of file of a closed database and check every read. */
export { runCorruptionSweep, sweepTarget } from './sweep.js';
export type { CorruptionSweepOptions, CorruptionReport, KindCounts, VerifyCounts } from './sweep.js';
export { verifyCopy } from './verify-pass.js';
export type { VerifyVerdict } from './verify-pass.js';
export { OUTCOMES, BAD_OUTCOMES } from './verify.js';
export type { Outcome, Examination } from './verify.js';
export type { Damage } from './damage.js';
export { classifyImage } from './file-kinds.js';
export type { Region } from './file-kinds.js';
