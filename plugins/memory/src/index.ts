/** @handlerton/memory: the reference engine, a Storage and a BlobHandlerton kept in memory. */
export { plugin, plugin as default } from './memory-plugin.js';
export { MemoryStorage } from './memory-storage.js';
export type { MemoryStorageOptions } from './memory-storage.js';
export { MemoryBlobHandlerton, DEFAULT_CHUNK_SIZE } from './memory-blobs.js';
export type { MemoryBlobOptions, MemoryBlobStats } from './memory-blobs.js';
export { parseMemoryOptions } from './memory-config.js';
export type { MemoryOptions } from './memory-config.js';
