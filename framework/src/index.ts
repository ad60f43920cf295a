/** @handlerton/framework: contracts, DI wiring, config and the Database API. */
import 'reflect-metadata';

export * from './contracts/ids.js';
export * from './contracts/errors.js';
export * from './contracts/capabilities.js';
export * from './contracts/records.js';
export * from './contracts/storage.js';
export * from './contracts/refs-codec.js';
export * from './contracts/context.js';
export * from './contracts/blob-handlerton.js';
export * from './contracts/locator.js';
export * from './contracts/plugin.js';
export type * from './contracts/database.js';

export { resolveConfig, engineName } from './config/database-config.js';
export type { DatabaseConfig, DatabaseConfigObject, EngineSpec, ResolvedConfig, ResolvedEngine } from './config/database-config.js';
export { BUILT_IN_ENGINES, isEnginePlugin } from './config/engine-loader.js';
export * from './di/tokens.js';
export { rootContainer, registerEnginePlugin, registeredEnginePlugins, loadEnginePlugin } from './di/root-container.js';
export { openDatabase, DatabaseOpener } from './di/open-database.js';
export type { DatabaseOverrides } from './di/open-database.js';
export { createDatabase } from './database/create-database.js';
export type { DatabaseEngines } from './database/create-database.js';
export { DatabaseImpl } from './database/database.js';
export { bytesCodec, jsonCodec, v8Codec, RECORD_CODECS } from './database/record-codecs.js';
export { DEFAULT_BACKOFF } from './database/retry-backoff.js';
export { DbTransaction } from './database/transaction.js';
export { RuntimeStorage } from './database/runtime-storage.js';
export type { RuntimeStorageOptions } from './database/runtime-storage.js';
export { DEFAULT_RECORD_CACHE_BYTES, ImmutableRecord, RecordCache } from './database/record-cache.js';
export type { RecordCacheStats } from './database/record-cache.js';
export { collectGarbage } from './database/collect-garbage.js';
export type { GcServices } from './database/collect-garbage.js';
export { BLOB_RECORD_MARKER, blobRecord, isBlobRecord, blobRefOf } from './blobs/blob-record.js';
export { stderrLogger, loggerFromEnv } from './util/stderr-logger.js';
export { describeValue, MAX_META_TEXT_BYTES, MAX_META_EXTENSION_BYTES, MAX_META_EXTENSION_DEPTH } from './util/validate.js';
export { copyTransactions } from './database/copy-transactions.js';
export type { CopyResult, EnginePair } from './database/copy-transactions.js';
