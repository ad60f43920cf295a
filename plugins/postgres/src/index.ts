/** @handlerton/postgres: the PostgreSQL engine (a Storage shared by many clients) for handlerton. */
import { plugin } from './plugin.js';

export { plugin };
export default plugin;
export { PgStorage, ENGINE_NAME } from './pg-storage.js';
export { PgBlobs } from './pg-blobs.js';
export { parsePgOptions, DEFAULT_SCHEMA, DEFAULT_POOL_SIZE, DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_CHUNK_SIZE, DEFAULT_BLOB_CACHE_BYTES, type PgOptions } from './options.js';
export { MIGRATION_NAMES } from './migrations.js';
