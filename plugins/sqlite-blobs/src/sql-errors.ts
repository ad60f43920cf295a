/** Maps SQLite failures to the framework's typed errors. */
import {
  CorruptionError,
  isHandlertonError,
  StorageIOError,
  StorageLockedError,
  type HandlertonError,
} from '@handlerton/framework';

/** The SQLite result code of an error thrown by better-sqlite3, if it is one. */
export function sqliteCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/** True when the error means the disk failed (fail-stop). */
export function isDiskFailure(error: unknown): boolean {
  const code = sqliteCode(error);
  return code !== undefined && (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_FULL' || code === 'SQLITE_READONLY');
}

/** Converts a SQLite error to a typed error (other errors pass through unchanged). */
export function mapSqliteError(error: unknown, what: string, file: string): unknown {
  if (isHandlertonError(error)) return error;
  const code = sqliteCode(error);
  if (code === undefined) return error;
  const message = error instanceof Error ? error.message : String(error);
  let mapped: HandlertonError;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    mapped = new StorageLockedError(`${what}: ${file} is locked by another connection or process (${code})`, { cause: error });
  } else if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' || (code === 'SQLITE_ERROR' && /unsupported file format/i.test(message))) {
    // "unsupported file format": a damaged schema format number in the file header.
    mapped = new CorruptionError(`${what}: ${message} (${code})`, file, undefined, { cause: error });
  } else if (isDiskFailure(error) || code.startsWith('SQLITE_CANTOPEN')) {
    mapped = new StorageIOError(`${what}: ${message} (${code}) on ${file}`, { cause: error });
  } else {
    return error;
  }
  return mapped;
}
