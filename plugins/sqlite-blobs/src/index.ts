/** @handlerton/sqlite-blobs: the SQLite engine (Storage + chunked BlobHandlerton) for handlerton. */
import { plugin } from './sqlite-plugin.js';

export { plugin };
export default plugin;
export { SqliteStorage, sqliteStorageCapabilities, ENGINE_NAME } from './sqlite-storage.js';
export { SqliteBlobs, SQLITE_BLOB_CAPABILITIES } from './sqlite-blobs.js';
export { parseSqliteOptions, DEFAULT_CHUNK_SIZE, DEFAULT_BUSY_TIMEOUT_MS, type SqliteOptions, type SynchronousLevel } from './options.js';
export { MIGRATION_NAMES } from './migrations.js';
