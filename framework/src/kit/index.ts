/**
 * The engine-author kit: what every Storage implementation repeats, done once. Import it as
 * `@handlerton/framework/kit`. Argument validation is not here on purpose: the framework validates
 * every call before it reaches an engine (RuntimeStorage, which `openDatabase` always puts in front
 * of the engine, and which the conformance suite runs third-party engines through).
 */
export { CommitSlot } from './commit-slot.js';
export type { CommitState } from './commit-slot.js';
export { checkDeleteSerial, checkStoreSerial } from './serials.js';
export type { CurrentRevision } from './serials.js';
export { copyMetaIn, copyMetaOut, copyRecordIn, copyRecordOut, copyRefs } from './copies.js';
export { RuntimeStorage } from '../database/runtime-storage.js';
