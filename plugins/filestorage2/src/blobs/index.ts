/** The FileStorage2 blob handlerton: public entry point of src/blobs. */
export { FileStorage2Blobs } from './file-storage2-blobs.js';
export type { BlobSyncMode, FileStorage2BlobsOptions } from './options.js';
export { DEFAULT_CHUNK_SIZE } from './layout.js';
