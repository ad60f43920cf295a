/** The PostgreSQL engine's options: parsing and validation. */
import { describeValue, InvalidConfigError, type EngineRequest } from '@handlerton/framework';

/** Validated options of the PostgreSQL engine. */
export interface PgOptions {
  /** Connection string (postgresql://...), from the config path or `options.url`. */
  readonly url: string;
  /** The schema holding this database's tables (created when missing). One handlerton database per schema. */
  readonly schema: string;
  /** Connections per pool (the storage and the blob handlerton each have one). */
  readonly poolSize: number;
  /** How long a commit waits for the commit lock held by another client before failing (ms). */
  readonly lockTimeoutMs: number;
  /** How long opening one connection may take, from the TCP connect to the server's "ready" (ms). */
  readonly connectTimeoutMs: number;
  /**
   * Commit asynchronously and flush the WAL after the commit lock is dropped (default false): other
   * clients may see a commit before it is durable; its writer is still acknowledged only after the flush.
   */
  readonly releaseBeforeFlush: boolean;
  /** Blob chunk size in bytes. */
  readonly chunkSize: number;
  /** Directory for blob drafts' local temporary files (default: the OS temp directory). */
  readonly tempDir: string | undefined;
  /** Directory of the local blob cache (shared by the processes of one machine); no cache when unset. */
  readonly blobCacheDir: string | undefined;
  /** The blob cache's budget in bytes (least-recently-used files are evicted beyond it). */
  readonly blobCacheBytes: number;
}

/** Default schema name. */
export const DEFAULT_SCHEMA = 'handlerton';
/** Default pool size. */
export const DEFAULT_POOL_SIZE = 8;
/** Default commit-lock timeout: 30 s. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;
/** Default connect timeout: 15 s (pg itself has none: a server that accepts and never answers would hang forever). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
/** Default blob chunk size: 256 KiB, as the SQLite engine (one row per chunk). */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
/** Default blob cache budget: 1 GiB. */
export const DEFAULT_BLOB_CACHE_BYTES = 1024 * 1024 * 1024;
const MIN_CACHE = 1024 * 1024;
const MIN_CHUNK = 4 * 1024;
const MAX_CHUNK = 16 * 1024 * 1024;
const KNOWN = new Set(['url', 'schema', 'poolSize', 'lockTimeoutMs', 'connectTimeoutMs', 'releaseBeforeFlush', 'chunkSize', 'tempDir', 'blobCacheDir', 'blobCacheBytes']);
/** An unquoted PostgreSQL identifier we accept as a schema name (lower case, max 63 bytes). */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function integerIn(value: unknown, min: number, max: number, at: string, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(`${at}: must be an integer ${what} from ${min} to ${max}, got ${describeValue(value)}`, at);
  }
  return value;
}

/** Validates an engine request; InvalidConfigError names the offending option. */
export function parsePgOptions(request: EngineRequest): PgOptions {
  const at = (name: string): string => `${request.configPath}.options.${name}`;
  const options: Readonly<Record<string, unknown>> = request.options ?? {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidConfigError(`${request.configPath}.options must be an object`, `${request.configPath}.options`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new InvalidConfigError(`${at(key)}: unknown option (known: ${[...KNOWN].join(', ')})`, at(key));
  }
  const fromOptions = options['url'];
  if (fromOptions !== undefined && typeof fromOptions !== 'string') {
    throw new InvalidConfigError(`${at('url')}: must be a connection string, got ${describeValue(fromOptions)}`, at('url'));
  }
  const url = request.location ?? fromOptions;
  if (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url)) {
    throw new InvalidConfigError(
      `${request.configPath}.location: the postgres engine needs a connection string "postgresql://user@host/db" (as the path, or options.url), got ${describeValue(url)}`,
      `${request.configPath}.location`,
    );
  }
  const schema = options['schema'] ?? DEFAULT_SCHEMA;
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new InvalidConfigError(`${at('schema')}: must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 characters), got ${describeValue(schema)}`, at('schema'));
  }
  const poolSize = integerIn(options['poolSize'] ?? DEFAULT_POOL_SIZE, 1, 1000, at('poolSize'), 'number of connections');
  const lockTimeoutMs = integerIn(options['lockTimeoutMs'] ?? DEFAULT_LOCK_TIMEOUT_MS, 1, 3_600_000, at('lockTimeoutMs'), 'number of milliseconds');
  const connectTimeoutMs = integerIn(options['connectTimeoutMs'] ?? DEFAULT_CONNECT_TIMEOUT_MS, 1, 3_600_000, at('connectTimeoutMs'), 'number of milliseconds');
  const releaseBeforeFlush = options['releaseBeforeFlush'] ?? false;
  if (typeof releaseBeforeFlush !== 'boolean') {
    throw new InvalidConfigError(`${at('releaseBeforeFlush')}: must be true or false, got ${describeValue(releaseBeforeFlush)}`, at('releaseBeforeFlush'));
  }
  const chunkSize = integerIn(options['chunkSize'] ?? DEFAULT_CHUNK_SIZE, MIN_CHUNK, MAX_CHUNK, at('chunkSize'), 'number of bytes');
  const tempDir = options['tempDir'];
  if (tempDir !== undefined && (typeof tempDir !== 'string' || tempDir === '' || tempDir.includes('\0'))) {
    throw new InvalidConfigError(`${at('tempDir')}: must be a directory path, got ${describeValue(tempDir)}`, at('tempDir'));
  }
  const blobCacheDir = options['blobCacheDir'];
  if (blobCacheDir !== undefined && (typeof blobCacheDir !== 'string' || blobCacheDir === '' || blobCacheDir.includes('\0'))) {
    throw new InvalidConfigError(`${at('blobCacheDir')}: must be a directory path, got ${describeValue(blobCacheDir)}`, at('blobCacheDir'));
  }
  if (options['blobCacheBytes'] !== undefined && blobCacheDir === undefined) {
    throw new InvalidConfigError(`${at('blobCacheBytes')}: needs options.blobCacheDir (the cache is off without a directory)`, at('blobCacheBytes'));
  }
  const blobCacheBytes = integerIn(options['blobCacheBytes'] ?? DEFAULT_BLOB_CACHE_BYTES, MIN_CACHE, Number.MAX_SAFE_INTEGER, at('blobCacheBytes'), 'number of bytes');
  return Object.freeze({ url, schema, poolSize, lockTimeoutMs, connectTimeoutMs, releaseBeforeFlush, chunkSize, tempDir, blobCacheDir, blobCacheBytes });
}

/** The options back from the frozen record the framework hands to createStorage/createBlobHandlerton. */
export function asPgOptions(options: Readonly<Record<string, unknown>>): PgOptions {
  return options as unknown as PgOptions;
}
