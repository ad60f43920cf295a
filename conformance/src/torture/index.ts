/** The torture harness: concurrent committers, blobs, packs and GC, killed at random moments, checked exactly. */
export { runTorture, TORTURE_WRITER_MODULE } from './loop.js';
export type { TortureOptions, TortureReport, TortureCycle, TortureDetails } from './loop.js';
export { formatTortureCycle, formatTortureDetails } from './format.js';
export { PackWatch } from './pack-watch.js';
export type { PackKillPoint } from './pack-watch.js';
export type { PackOps } from './protocol.js';
