/**
 * The engine plugin: "sqlite-blobs" (alias "sqlite"). It provides a Storage and a BlobHandlerton;
 * when both are opened on the same location they share one database file and one connection.
 */
import type { BlobHandlerton, EngineContext, EngineOptions, EnginePlugin, EngineRequest, Storage } from '@handlerton/framework';
import { DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_CHUNK_SIZE, parseSqliteOptions, type SqliteOptions } from './options.js';
import { SQLITE_BLOB_CAPABILITIES, SqliteBlobs } from './sqlite-blobs.js';
import { ENGINE_NAME, SqliteStorage, sqliteStorageCapabilities } from './sqlite-storage.js';

function asSqliteOptions(options: EngineOptions): SqliteOptions {
  return {
    location: String(options['location']),
    synchronous: options['synchronous'] === 'normal' ? 'normal' : 'full',
    chunkSize: typeof options['chunkSize'] === 'number' ? options['chunkSize'] : DEFAULT_CHUNK_SIZE,
    busyTimeoutMs: typeof options['busyTimeoutMs'] === 'number' ? options['busyTimeoutMs'] : DEFAULT_BUSY_TIMEOUT_MS,
    readOnly: options['readOnly'] === true,
  };
}

/** The SQLite engine plugin. */
export const plugin: EnginePlugin = Object.freeze({
  name: ENGINE_NAME,
  aliases: Object.freeze(['sqlite']),
  description: 'SQLite (kysely + better-sqlite3, WAL): records in tables, blobs in shared 256 KiB chunks with partial updates',
  storageCapabilities: sqliteStorageCapabilities('full'),
  blobCapabilities: SQLITE_BLOB_CAPABILITIES,
  parseOptions(request: EngineRequest): EngineOptions {
    return parseSqliteOptions(request);
  },
  async createStorage(options: EngineOptions, context: EngineContext): Promise<Storage> {
    return SqliteStorage.open(asSqliteOptions(options), context.clock, context.fs);
  },
  async createBlobHandlerton(options: EngineOptions, context: EngineContext): Promise<BlobHandlerton> {
    return SqliteBlobs.open(asSqliteOptions(options), context.logger, context.fs);
  },
});
