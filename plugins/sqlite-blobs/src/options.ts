/** The engine's options: parsing and validation. */
import { describeValue, InvalidConfigError, type EngineRequest } from '@handlerton/framework';

/** How hard SQLite syncs a commit (see README "Durability"). */
export type SynchronousLevel = 'full' | 'normal';

/** Validated options of the SQLite engine. */
export type SqliteOptions = {
  /** Database file path. */
  readonly location: string;
  /** 'full' (default): every commit fsyncs the WAL. 'normal': fsync only at checkpoints. */
  readonly synchronous: SynchronousLevel;
  /** Blob chunk size in bytes (default 256 KiB). */
  readonly chunkSize: number;
  /** How long to wait for a lock held by another connection before StorageLockedError (ms). */
  readonly busyTimeoutMs: number;
  /** Inspection: no writer lock, no migration, no file changed; every write raises ReadOnlyError (default false). */
  readonly readOnly: boolean;
};

/** Default blob chunk size: 256 KiB (measured, see README). */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
/** Default busy timeout. */
export const DEFAULT_BUSY_TIMEOUT_MS = 2000;
const MIN_CHUNK = 4 * 1024;
const MAX_CHUNK = 64 * 1024 * 1024;
const KNOWN = new Set(['synchronous', 'chunkSize', 'busyTimeoutMs', 'readOnly']);

/** Validates an engine request; InvalidConfigError names the offending option. */
export function parseSqliteOptions(request: EngineRequest): SqliteOptions {
  const at = (name: string): string => `${request.configPath}.options.${name}`;
  const location = request.location;
  if (typeof location !== 'string' || location.trim() === '') {
    throw new InvalidConfigError(
      `${request.configPath}.location: the sqlite engine needs a database file path (e.g. "sqlite:./app.db")`,
      `${request.configPath}.location`,
    );
  }
  if (location.includes('\0')) {
    throw new InvalidConfigError(
      `${request.configPath}.path: a sqlite database path must not contain a NUL byte, got ${JSON.stringify(location)}`,
      `${request.configPath}.path`,
    );
  }
  const options = request.options ?? {};
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new InvalidConfigError(`${at(key)}: unknown option (known: ${[...KNOWN].join(', ')})`, at(key));
    }
  }
  const synchronous = options['synchronous'] ?? 'full';
  if (synchronous !== 'full' && synchronous !== 'normal') {
    throw new InvalidConfigError(`${at('synchronous')}: must be "full" or "normal", got ${describeValue(synchronous)}`, at('synchronous'));
  }
  const chunkSize = options['chunkSize'] ?? DEFAULT_CHUNK_SIZE;
  if (typeof chunkSize !== 'number' || !Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK || chunkSize > MAX_CHUNK) {
    throw new InvalidConfigError(
      `${at('chunkSize')}: must be an integer between ${MIN_CHUNK} and ${MAX_CHUNK} bytes, got ${describeValue(chunkSize)}`,
      at('chunkSize'),
    );
  }
  const busyTimeoutMs = options['busyTimeoutMs'] ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (typeof busyTimeoutMs !== 'number' || !Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0 || busyTimeoutMs > 600_000) {
    throw new InvalidConfigError(
      `${at('busyTimeoutMs')}: must be an integer number of milliseconds between 0 and 600000, got ${describeValue(busyTimeoutMs)}`,
      at('busyTimeoutMs'),
    );
  }
  const readOnly = options['readOnly'] ?? false;
  if (typeof readOnly !== 'boolean') {
    throw new InvalidConfigError(`${at('readOnly')}: must be true or false, got ${describeValue(readOnly)}`, at('readOnly'));
  }
  return Object.freeze({ location, synchronous, chunkSize, busyTimeoutMs, readOnly });
}
