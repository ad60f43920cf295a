/** Simulated power loss: the crash-recording file layer, the post-crash state model and the harness. */
export { runPowerLoss, RECOVERY_WORKLOAD, DEAD_PID, withDeadLockOwners } from './run-powerloss.js';
export type { PowerLossOptions } from './run-powerloss.js';
export { CrashRecorder } from './recording-fs.js';
export { CRASH_MODES, SECTOR_SIZE, PAGE_SIZE, crashPoints, crashState, markersBefore, treeDigest, writeTree } from './crash-states.js';
export type { CrashMode, CrashStateInfo } from './crash-states.js';
export type { FsEvent, TreeState, AddEntryEvent, RemoveEntryEvent, RenameEvent, WriteEvent, TruncateEvent, SyncEvent, MarkerEvent } from './events.js';
export { checkState } from './check-state.js';
export type { StateVerdict } from './check-state.js';
export { ACK, WorkloadDriver, builtInWorkloads, recordBytes } from './workloads.js';
export type { Workload, TxnRecord, TxnSpec, ExpectedObject } from './workloads.js';
