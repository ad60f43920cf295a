/** @handlerton/filestorage2: the FileStorage2 engine (segmented log storage and file blob store). */
export { plugin, plugin as default } from './filestorage2-plugin.js';
export { FileStorage2 } from './storage/filestorage2.js';
export { FileStorage2Blobs } from './blobs/index.js';
export { parseFileStorage2Options, parseEngineRequest, BATCH_SYNC_DELAY_MS } from './filestorage2-config.js';
export type { FileStorage2Options, SyncMode } from './filestorage2-config.js';
