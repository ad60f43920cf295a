/**
 * Typed errors. Every error the framework or an engine raises on purpose is a HandlertonError
 * with a stable `code`; callers branch on `code` (or `instanceof` / `isHandlertonError`), never on
 * the message. Messages say what was wrong and may change between versions; codes do not.
 *
 * Engines may be installed with their own copy of this package, so the brand check
 * `isHandlertonError(e, 'HANDLERTON_CONFLICT')` works across copies where `instanceof` would not.
 */

const BRAND = Symbol.for('handlerton.error');

/** Every stable error code, listed once. */
export type ErrorCode =
  | 'HANDLERTON_CONFLICT'
  | 'HANDLERTON_READ_CONFLICT'
  | 'HANDLERTON_POS_KEY'
  | 'HANDLERTON_BLOB_LOCKED'
  | 'HANDLERTON_INVALID_LOCATOR'
  | 'HANDLERTON_TRANSACTION_CLOSED'
  | 'HANDLERTON_STORAGE_TRANSACTION'
  | 'HANDLERTON_STORAGE_LOCKED'
  | 'HANDLERTON_CORRUPTION'
  | 'HANDLERTON_NOT_SUPPORTED'
  | 'HANDLERTON_READ_ONLY'
  | 'HANDLERTON_INVALID_ARGUMENT'
  | 'HANDLERTON_INVALID_CONFIG'
  | 'HANDLERTON_UNKNOWN_ENGINE'
  | 'HANDLERTON_HANDLE_CLOSED'
  | 'HANDLERTON_STORAGE_CLOSED'
  | 'HANDLERTON_IO'
  | 'HANDLERTON_PACK_IN_PROGRESS'
  | 'HANDLERTON_GC_NO_ROOT'
  | 'HANDLERTON_FORMAT_VERSION'
  | 'HANDLERTON_NOT_FOUND';

/** Options shared by every error constructor. */
export interface HandlertonErrorOptions {
  cause?: unknown;
}

/** Base class of every typed error; `code` is stable across versions. */
export abstract class HandlertonError extends Error {
  abstract readonly code: ErrorCode;
  readonly [BRAND] = true;

  constructor(message: string, options?: HandlertonErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** True when `value` is a HandlertonError (from any copy of the package), optionally of `code`. */
export function isHandlertonError(value: unknown, code?: ErrorCode): value is HandlertonError {
  if (typeof value !== 'object' || value === null) return false;
  const marked = (value as { [BRAND]?: unknown })[BRAND] === true;
  return marked && (code === undefined || (value as { code?: unknown }).code === code);
}

/** 16 hex digits, the one form oids and tids are printed in (ids.ts's toHex; not imported, ids.ts imports this file). */
function hex(value: bigint): string {
  return value.toString(16).padStart(16, '0');
}

/** A write lost a race: the object changed since the serial the writer read (retry the transaction). */
export class ConflictError extends HandlertonError {
  readonly code = 'HANDLERTON_CONFLICT' as const;
  /** The object in conflict. */
  readonly oid: bigint;
  /** The serial currently committed, or undefined when the object is gone. */
  readonly committedSerial: bigint | undefined;
  /** The serial the writer expected. */
  readonly expectedSerial: bigint;
  /** Set by `Database.transaction()` when it gives up: how many attempts it made (retries + 1). */
  attempts: number | undefined = undefined;

  constructor(oid: bigint, committedSerial: bigint | undefined, expectedSerial: bigint, detail?: string) {
    // Tids (serials) and oids in 16 hex digits, as everywhere else (toHex in ids.ts; not imported: ids.ts imports this module).
    super(
      `conflict on oid ${hex(oid)}: committed serial ${committedSerial === undefined ? 'none' : hex(committedSerial)}, expected ${hex(expectedSerial)}` +
        (detail ? ` (${detail})` : ''),
    );
    this.oid = oid;
    this.committedSerial = committedSerial;
    this.expectedSerial = expectedSerial;
  }
}

/** A read in a transaction can no longer be served consistently (e.g. packed away); retry. */
export class ReadConflictError extends HandlertonError {
  readonly code = 'HANDLERTON_READ_CONFLICT' as const;
  /** Set by `Database.transaction()` when it gives up: how many attempts it made (retries + 1). */
  attempts: number | undefined = undefined;
}

/** No such object, revision or blob (ZODB's POSKeyError). */
export class POSKeyError extends HandlertonError {
  readonly code = 'HANDLERTON_POS_KEY' as const;
  /** The missing oid or blob id, when known. */
  readonly key: bigint | undefined;

  constructor(message: string, key?: bigint) {
    super(message);
    this.key = key;
  }
}

/** A blob open would break "N readers xor 1 writer". */
export class BlobLockedError extends HandlertonError {
  readonly code = 'HANDLERTON_BLOB_LOCKED' as const;
}

/** A locator is malformed, tampered, truncated or from another database or handlerton. */
export class InvalidLocatorError extends HandlertonError {
  readonly code = 'HANDLERTON_INVALID_LOCATOR' as const;
}

/** The transaction (or the writable handle tied to it) has already committed or aborted. */
export class TransactionClosedError extends HandlertonError {
  readonly code = 'HANDLERTON_TRANSACTION_CLOSED' as const;
}

/** A two-phase-commit call was made out of order or with a transaction that is not the active one. */
export class StorageTransactionError extends HandlertonError {
  readonly code = 'HANDLERTON_STORAGE_TRANSACTION' as const;
}

/** Another process owns the storage (lock file held). */
export class StorageLockedError extends HandlertonError {
  readonly code = 'HANDLERTON_STORAGE_LOCKED' as const;
}

/** Stored bytes fail their checksum or structure check; never read as data. */
export class CorruptionError extends HandlertonError {
  readonly code = 'HANDLERTON_CORRUPTION' as const;
  /** The damaged file, when the engine has files. */
  readonly file: string | undefined;
  /** The byte offset of the damage within `file`. */
  readonly offset: number | undefined;

  constructor(message: string, file?: string, offset?: number, options?: HandlertonErrorOptions) {
    super(file === undefined ? message : `${message} (${file}${offset === undefined ? '' : ` at offset ${offset}`})`, options);
    this.file = file;
    this.offset = offset;
  }
}

/** The engine does not claim the capability this call needs. */
export class NotSupportedError extends HandlertonError {
  readonly code = 'HANDLERTON_NOT_SUPPORTED' as const;
  /** The capability that is missing. */
  readonly capability: string;

  constructor(capability: string, engine: string) {
    super(`${engine} does not support ${capability}`);
    this.capability = capability;
  }
}

/** A write was attempted on a read-only storage, snapshot or handle. */
export class ReadOnlyError extends HandlertonError {
  readonly code = 'HANDLERTON_READ_ONLY' as const;
}

/** An argument has the wrong type or range (an open mode, an offset, an oid). */
export class InvalidArgumentError extends HandlertonError {
  readonly code = 'HANDLERTON_INVALID_ARGUMENT' as const;
}

/** Configuration is wrong: the message names the option. */
export class InvalidConfigError extends HandlertonError {
  readonly code = 'HANDLERTON_INVALID_CONFIG' as const;
  /** The offending option's path, e.g. `storage.options.syncMode`. */
  readonly option: string | undefined;

  constructor(message: string, option?: string, options?: HandlertonErrorOptions) {
    super(message, options);
    this.option = option;
  }
}

/** Configuration names an engine that is neither built in nor importable as a package. */
export class UnknownEngineError extends HandlertonError {
  readonly code = 'HANDLERTON_UNKNOWN_ENGINE' as const;
}

/** A blob handle was used after close. */
export class HandleClosedError extends HandlertonError {
  readonly code = 'HANDLERTON_HANDLE_CLOSED' as const;
}

/** The storage or database was used after close. */
export class StorageClosedError extends HandlertonError {
  readonly code = 'HANDLERTON_STORAGE_CLOSED' as const;
}

/** The disk failed (EIO, ENOSPC, a failed fsync). The engine stops accepting writes (fail-stop). */
export class StorageIOError extends HandlertonError {
  readonly code = 'HANDLERTON_IO' as const;
}

/** A pack was requested while another pack runs. */
export class PackInProgressError extends HandlertonError {
  readonly code = 'HANDLERTON_PACK_IN_PROGRESS' as const;
}

/**
 * The database was written in a format this version cannot read: a newer version of the engine
 * changed it (its schema or file format). Nothing was changed; open it with that version or newer.
 */
export class FormatVersionError extends HandlertonError {
  readonly code = 'HANDLERTON_FORMAT_VERSION' as const;
}

/** The external garbage collector refused to run: the root object (oid 0) has no current revision, so everything would be garbage. Nothing was deleted. */
export class GcRootMissingError extends HandlertonError {
  readonly code = 'HANDLERTON_GC_NO_ROOT' as const;
}

/** A database to inspect does not exist (an inspecting command never creates one). */
export class DatabaseNotFoundError extends HandlertonError {
  readonly code = 'HANDLERTON_NOT_FOUND' as const;
}
