/**
 * The application API: what `openDatabase` returns. Engines never implement these; the framework
 * builds them over a Storage and a BlobHandlerton.
 *
 * Blob rules (DESIGN.md "Blob semantics"), kept by the framework for every engine:
 * - open('r') reads the data committed as of the view (or this transaction's uncommitted data,
 *   once it exists);
 * - the first open('w') in a transaction starts new empty uncommitted data; 'a' and 'r+' start
 *   from the committed data (copy-on-write; 'r+' at position 0, 'a' writing at the end); once
 *   uncommitted data exists every later open sees it;
 * - per blob and transaction: N readers and no writer, or 1 writer and no readers (BlobLockedError);
 * - a writable handle dies with its transaction: commit or abort closes it, later use raises
 *   TransactionClosedError; uncommitted data is invisible to every other transaction and snapshot;
 * - a reader keeps reading its revision after a newer commit, a delete, a pack or the end of the
 *   transaction that opened it, until it closes (closing a snapshot closes its handles);
 * - two transactions writing one blob conflict as two writing one record do: the later commit
 *   raises ConflictError.
 */
import type { Readable, Writable } from 'node:stream';
import type { BlobCapabilities, StorageCapabilities } from './capabilities.js';
import type { Oid, Tid } from './ids.js';
import type { Locator } from './locator.js';
import type { DatabasePackResult, TransactionMeta } from './records.js';

/** Blob open modes. */
export type BlobMode = 'r' | 'w' | 'a' | 'r+';

/** A record as the application sees it. */
export interface DbRecord {
  readonly oid: Oid;
  /** The serial (tid that wrote this revision). */
  readonly tid: Tid;
  readonly data: Uint8Array;
  /** Oids this record references (for the external garbage collector). */
  readonly refs: readonly Oid[];
}

/** Reads at one consistent point in time. */
export interface ReadView {
  /** The view reads the state as of this tid (inclusive). */
  readonly tid: Tid;
  /**
   * The record `oid`; POSKeyError when it does not exist in this view. ReadConflictError instead when
   * the view is older than the storage's pack horizon and finds nothing (pack may have removed it).
   */
  read(oid: Oid): Promise<DbRecord>;
  /** The record `oid`, or undefined when it does not exist in this view (ReadConflictError as for `read`). */
  tryRead(oid: Oid): Promise<DbRecord | undefined>;
  /** The blob object `oid`; POSKeyError when missing, InvalidArgumentError when `oid` is not a blob. */
  blob(oid: Oid): Promise<Blob>;
}

/** A read-only MVCC view (opening a blob for writing raises ReadOnlyError); close it when done. */
export interface Snapshot extends ReadView, AsyncDisposable {
  /** Closes the view and the blob handles opened through it: later use of either raises TransactionClosedError. */
  close(): Promise<void>;
}

/** Options of `create` and `write`. */
export interface WriteOptions {
  /**
   * Oids the record references (blobs are referenced by their oid). The external garbage collector
   * trusts these completely. For `write`, omitting `refs` keeps the references of the revision being
   * replaced; an explicit array replaces them and `[]` clears them. For `create`, omitted means none.
   */
  readonly refs?: readonly Oid[];
}

/**
 * A read-write transaction; isolated (snapshot reads, first committer wins): it reads the state it
 * began from plus its own writes, which no other transaction or snapshot sees before it commits.
 */
export interface Transaction extends ReadView {
  /** Creates a record; returns its new oid. */
  create(data: Uint8Array, options?: WriteOptions): Promise<Oid>;
  /**
   * Replaces the data of record `oid` (which must exist in this view, or be the root oid 0 to create it).
   * Without `options.refs` the record keeps its current references.
   */
  write(oid: Oid, data: Uint8Array, options?: WriteOptions): Promise<void>;
  /**
   * Deletes record `oid` (external-GC delete; needs capability externalGC, else NotSupportedError):
   * the transaction reads it as missing from then on, and so do views opened after the commit;
   * older snapshots keep reading it.
   */
  delete(oid: Oid): Promise<void>;
  /** Creates a new, empty blob object; returns it. Reference its oid from a record to keep it. */
  createBlob(): Promise<Blob>;
  /**
   * Opens a blob through a locator, within this transaction: 'r' reads the locator's revision; 'w' and
   * 'r+' need write access, 'a' write or append access (InvalidLocatorError otherwise).
   */
  openLocator(locator: Locator | Uint8Array | string, mode: BlobMode): Promise<BlobHandle>;
  /** True until commit or abort. */
  readonly active: boolean;
  /**
   * Commits and ends the transaction (later calls raise TransactionClosedError; `abort` does nothing);
   * returns the commit tid, or the view's tid when nothing was written (no storage transaction is then
   * committed). ConflictError when a write lost a race.
   */
  commit(): Promise<Tid>;
  /** Aborts: nothing of the transaction becomes visible. Never throws; idempotent. */
  abort(): Promise<void>;
}

/** A blob object: a record that owns blob data. */
export interface Blob {
  readonly oid: Oid;
  /** Opens the blob; see the blob rules above. InvalidArgumentError for a mode other than 'r', 'w', 'a' and 'r+'. */
  open(mode: BlobMode): Promise<BlobHandle>;
  /**
   * A signed locator, granting read access and the `access` asked for (write, append), for the
   * committed revision this view started from. In a writing transaction that is not the revision
   * being written (it has no tid before the commit; a blob created in the transaction names revision
   * 0, an empty blob): take the new revision's locator from a view opened after the commit.
   */
  locator(access?: { write?: boolean; append?: boolean }): Locator;
}

/** Whence values for seek. */
export type SeekWhence = 'start' | 'current' | 'end';

/** An open blob: positioned reads and writes plus streams. */
export interface BlobHandle extends AsyncDisposable {
  readonly mode: BlobMode;
  /** True until closed (explicitly, or by the end of its transaction for writers). */
  readonly open: boolean;
  /**
   * Reads up to `length` bytes (at most 64 MiB) at the position (default: up to 64 KiB) and advances it
   * by the count read; an empty array at or past the end (the position stays).
   */
  read(length?: number): Promise<Uint8Array>;
  /** Writes at the position (at the end in 'a' mode), advances it and returns the bytes written. ReadOnlyError on a handle opened with 'r'. */
  write(data: Uint8Array | string): Promise<number>;
  /**
   * Moves the position to `offset` from the start, the current position or the end; seeking past the
   * end is allowed (a later write zero-fills), before the start raises InvalidArgumentError. Returns
   * the new position.
   */
  seek(offset: number, whence?: SeekWhence): number;
  /** The position. */
  tell(): number;
  /** The current size in bytes. */
  size(): number;
  /** Cuts or zero-extends to `size` bytes (default: the position). */
  truncate(size?: number): Promise<void>;
  /** Pushes buffered writes down (and commits for non-data-transactional handlertons). */
  flush(): Promise<void>;
  /** Closes the handle (as `Symbol.asyncDispose` does); later use raises HandleClosedError. Idempotent. */
  close(): Promise<void>;
  /** A Readable over bytes [start, end) (end exclusive; default: to the end); highWaterMark 1 B to 64 MiB (default 1 MiB). */
  createReadStream(options?: { start?: number; end?: number; highWaterMark?: number }): Readable;
  /** A Writable that writes at the position. */
  createWriteStream(): Writable;
  /** A locator for the committed revision this handle reads; for a writer, the one its draft started from (see `Blob.locator`). */
  readonly locator: Locator;
}

/** Options of a transaction run. */
export interface TransactionOptions {
  /** Checked when the transaction begins (InvalidArgumentError naming e.g. `options.meta.description`); see TransactionMeta. */
  readonly meta?: Partial<TransactionMeta>;
  /** How many times to retry on ConflictError at commit or ReadConflictError during the run (default 0): the body runs again in a new transaction. */
  readonly retries?: number;
}

/** Options of the external garbage collector; a wrong type, NaN or a negative number raises InvalidArgumentError naming the option. */
export interface GcOptions {
  /** Report what would be deleted and change nothing (default false). */
  readonly dryRun?: boolean;
  /**
   * Safety window in milliseconds (default 3_600_000, one hour; 0 disables it): every object written
   * by a transaction whose tid is newer than now - keep (by the database's clock), every oid such a
   * transaction references, and everything reachable from them, is kept (zc.zodbdgc's `days`).
   */
  readonly keep?: number;
  /** How many deleted (or, in a dry run, deletable) oids the result lists (default 1000). */
  readonly reportLimit?: number;
  /**
   * Entries each of the collector's sets (current objects, marked oids, the pending frontier) holds
   * in memory before it spills sorted runs to temporary files (default 1_048_576: about 8 MiB per
   * set, 16 MiB for the oid -> serial map). The result is the same either way.
   */
  readonly spillThreshold?: number;
  /** Directory for the spilled runs (default os.tmpdir()); the collector removes its files when done, also on error. */
  readonly tmpDir?: string;
}

/** What the external garbage collector did (or, in a dry run, would do). */
export interface GcResult {
  /** True when nothing was changed (GcOptions.dryRun). */
  readonly dryRun: boolean;
  /** Objects reachable from the root. */
  readonly reachable: number;
  /** Objects kept only because the safety window (or a commit made while the collector ran) protects them. */
  readonly recent: number;
  /** Objects found unreachable: deleted, or in a dry run what would be deleted. */
  readonly garbage: number;
  /** Delete markers written (0 in a dry run; fewer than `garbage` when objects changed while the collector ran). */
  readonly deleted: number;
  /** The first `reportLimit` deleted (dry run: deletable) oids, ascending; `garbage` is the full count. */
  readonly oids: readonly Oid[];
  /** True when the sets outgrew `spillThreshold` and went through temporary files. */
  readonly spilled: boolean;
}

/** An open database. */
export interface Database extends AsyncDisposable {
  /** The manifests of the storage and the blob handlerton the database runs on. */
  readonly capabilities: { readonly storage: StorageCapabilities; readonly blobs: BlobCapabilities };
  /** Names of the storage engine and blob handlerton in use. */
  readonly engines: { readonly storage: string; readonly blobs: string };
  /** Starts a transaction the caller commits or aborts. */
  begin(options?: TransactionOptions): Transaction;
  /** Runs `fn` in a transaction: commits when it returns, aborts when it throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * A read-only view of the latest committed state (its tid is `lastTransaction()`), or of the state as
   * of `at`; later commits do not change what it reads.
   */
  snapshot(at?: Tid): Promise<Snapshot>;
  /**
   * Opens for reading, outside any transaction, the blob revision a locator names (even after the blob
   * changed). InvalidLocatorError when it is malformed, altered, or of another database or handlerton;
   * POSKeyError when the revision was reclaimed.
   */
  openLocator(locator: Locator | Uint8Array | string): Promise<BlobHandle>;
  /** Tid of the last committed transaction. */
  lastTransaction(): Tid;
  /**
   * Packs the storage as of `at` (default: now) and reclaims unreferenced blob revisions. Commits,
   * reads and blob writes in progress go on while it runs and lose nothing.
   */
  pack(at?: Date | Tid): Promise<DatabasePackResult>;
  /**
   * External GC: deletes (writes delete markers for) every object not reachable from the root (oid 0)
   * and not protected by the safety window; a later pack reclaims the space. GcRootMissingError, and
   * nothing deleted, when the root has no current revision (also in a dry run). Needs capabilities
   * iterator and externalGC.
   */
  collectGarbage(options?: GcOptions): Promise<GcResult>;
  /** Closes the database and everything it opened. */
  close(): Promise<void>;
}
