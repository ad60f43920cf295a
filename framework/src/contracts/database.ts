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

/**
 * Turns the application's values into record bytes and back (config option `codec`). Built in:
 * `'bytes'` (the default: values are the bytes), `'json'` and `'v8'` (see `RECORD_CODECS`).
 * `encode` throws for a value it cannot encode (the framework reports InvalidArgumentError naming the
 * argument, and nothing is written); `decode` throws for bytes it cannot decode (InvalidConfigError
 * naming `codec`: the data was not written with this codec). Both run synchronously on every write
 * and on the first read of `DbRecord.value`.
 */
export interface RecordCodec<V> {
  /** A short name for messages ("json"). */
  readonly name: string;
  encode(value: V): Uint8Array;
  decode(data: Uint8Array): V;
}

/** The names of the built-in codecs. */
export type RecordCodecName = 'bytes' | 'json' | 'v8';

/** A record as the application sees it; `V` is the value type of the database's codec. */
export interface DbRecord<V = Uint8Array> {
  readonly oid: Oid;
  /** The serial (tid that wrote this revision). */
  readonly tid: Tid;
  /** The stored bytes (a copy). */
  readonly data: Uint8Array;
  /** The value: `data` decoded by the database's codec (decoded on first access; `data` itself for `'bytes'`). */
  readonly value: V;
  /** Oids this record references (for the external garbage collector). */
  readonly refs: readonly Oid[];
}

/** Reads at one consistent point in time. */
export interface ReadView<V = Uint8Array> {
  /** The view reads the state as of this tid (inclusive). */
  readonly tid: Tid;
  /**
   * The record `oid`; POSKeyError when it does not exist in this view. ReadConflictError instead when
   * the view is older than the storage's pack horizon and finds nothing (pack may have removed it).
   */
  read(oid: Oid): Promise<DbRecord<V>>;
  /** The record `oid`, or undefined when it does not exist in this view (ReadConflictError as for `read`). */
  tryRead(oid: Oid): Promise<DbRecord<V> | undefined>;
  /** The blob object `oid`; POSKeyError when missing, InvalidArgumentError when `oid` is not a blob. */
  blob(oid: Oid): Promise<Blob>;
}

/** A read-only MVCC view (opening a blob for writing raises ReadOnlyError); close it when done. */
export interface Snapshot<V = Uint8Array> extends ReadView<V>, AsyncDisposable {
  /**
   * The objects that exist in this view (records and blob objects; not deleted ones), ascending by
   * oid, each read as of the view's tid. Built on the storage's `iterator` (NotSupportedError without
   * it): the history up to the view's tid is replayed once into an oid -> serial map held as sorted
   * runs (about 16 bytes per entry in memory up to `spillThreshold` entries, temporary files under
   * `tmpDir` past it, removed when the iteration ends or is abandoned); then each object is read as
   * it is yielded. So the first object comes after one pass over the stored history. A view older than
   * the pack horizon raises ReadConflictError; closing the snapshot ends the iteration
   * (TransactionClosedError at the next object).
   */
  objects(options?: ObjectsOptions): AsyncIterable<CurrentObject<V>>;
  /** Closes the view and the blob handles opened through it: later use of either raises TransactionClosedError. */
  close(): Promise<void>;
}

/** Options of `Snapshot.objects()`; a wrong type raises InvalidArgumentError naming the option. */
export interface ObjectsOptions {
  /** Map entries held in memory before sorted runs spill to temporary files (default 1_048_576, about 16 MiB; at least 2). */
  readonly spillThreshold?: number;
  /** Directory of the spilled runs (default os.tmpdir()). */
  readonly tmpDir?: string;
}

/** One object of `Snapshot.objects()`: its record as of the view, and whether it is a blob object (open it with `blob(oid)`). */
export interface CurrentObject<V = Uint8Array> extends DbRecord<V> {
  /** True for a blob object: its `data` is the framework's blob marker, not an application value. */
  readonly isBlob: boolean;
}

/** The range of `Database.transactions()`: inclusive bounds, tids or Dates (a Date includes its whole millisecond). */
export interface TransactionRange {
  /** The first tid (default: the first transaction). */
  readonly since?: Tid | Date;
  /** The last tid (default: the last transaction when the iteration starts). */
  readonly until?: Tid | Date;
}

/** A committed transaction as `Database.transactions()` yields it. */
export interface CommittedTransaction<V = Uint8Array> {
  readonly tid: Tid;
  /** The wall-clock time of the tid. */
  readonly time: Date;
  readonly user: string;
  readonly description: string;
  readonly extension: Readonly<Record<string, unknown>>;
  /** The revisions it wrote (record null: a delete marker), in the order the storage keeps them. */
  readonly records: readonly TransactionWrite<V>[];
}

/** One write of a committed transaction. */
export interface TransactionWrite<V = Uint8Array> {
  readonly oid: Oid;
  /** The revision written (its value decoded on first access), or null for a delete marker. */
  readonly record: DbRecord<V> | null;
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
export interface Transaction<V = Uint8Array> extends ReadView<V> {
  /**
   * Creates a record holding `value` (encoded by the database's codec; InvalidArgumentError naming
   * `value`, and nothing written, when it cannot be encoded); returns its new oid.
   */
  create(value: V, options?: WriteOptions): Promise<Oid>;
  /**
   * Replaces the value of record `oid` (which must exist in this view, or be the root oid 0 to create it).
   * Without `options.refs` the record keeps its current references. A value the codec cannot encode
   * raises InvalidArgumentError naming `value` and changes nothing.
   */
  write(oid: Oid, value: V, options?: WriteOptions): Promise<void>;
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
  /**
   * How many times `transaction()` retries on ConflictError at commit or ReadConflictError during the
   * run (default 0): the body runs again in a new transaction. When it gives up, the last error is
   * thrown with `attempts` set (and said in its message).
   */
  readonly retries?: number;
  /** The wait between retries (exponential backoff with full jitter); see BackoffOptions. Ignored by `begin()`. */
  readonly backoff?: BackoffOptions;
}

/**
 * Backoff between the attempts of `transaction(fn, { retries })`: before retry n (0 for the first)
 * it waits a uniformly random time in [0, min(maxMs, initialMs * factor^n)] milliseconds (full
 * jitter), after the commit that won the race became visible. InvalidArgumentError naming the option
 * (e.g. `options.backoff.factor`) for a value out of range.
 */
export interface BackoffOptions {
  /** Bound of the first wait in ms, 0 to 60000 (default 2; 0 retries at once, as before). */
  readonly initialMs?: number;
  /** Cap of every wait in ms, from initialMs to 60000 (default 250, or initialMs when larger). */
  readonly maxMs?: number;
  /** Growth of the bound per retry, 1 to 16 (default 2). */
  readonly factor?: number;
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
  /** Told what the collector is doing, at each phase's start and end and every few milliseconds of work (e.g. a CLI progress bar). */
  readonly onProgress?: (progress: GcProgress) => void;
}

/** Where a running collection is: `done` counts transactions read (replay), objects loaded (mark) or current objects checked (sweep). */
export interface GcProgress {
  readonly phase: 'replay' | 'mark' | 'sweep';
  readonly done: number;
  /** Delete markers written so far (sweep; 0 in a dry run). */
  readonly deleted: number;
}

/** Options of `Database.pack`. */
export interface PackOptions {
  /** Told what the pack is doing: at each phase's start and after each batch of blob references the storage released. */
  readonly onProgress?: (progress: PackProgress) => void;
}

/**
 * Where a running pack is: `records` while the storage packs (engines report no finer progress than
 * the blob references they release, in batches), `blobs` while unreferenced blob revisions are reclaimed.
 */
export interface PackProgress {
  readonly phase: 'records' | 'blobs';
  /** Blob references the removed record revisions held, released so far. */
  readonly blobRefsReleased: number;
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

/** An open database; `V` is the value type of its codec (Uint8Array for the default `'bytes'`). */
export interface Database<V = Uint8Array> extends AsyncDisposable {
  /** The manifests of the storage and the blob handlerton the database runs on. */
  readonly capabilities: { readonly storage: StorageCapabilities; readonly blobs: BlobCapabilities };
  /** Names of the storage engine and blob handlerton in use. */
  readonly engines: { readonly storage: string; readonly blobs: string };
  /** Starts a transaction the caller commits or aborts. */
  begin(options?: TransactionOptions): Transaction<V>;
  /** Runs `fn` in a transaction: commits when it returns, aborts when it throws. */
  transaction<T>(fn: (tx: Transaction<V>) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * A read-only view of the latest committed state (its tid is `lastTransaction()`), or of the state as
   * of `at`; later commits do not change what it reads.
   */
  snapshot(at?: Tid): Promise<Snapshot<V>>;
  /**
   * Opens for reading, outside any transaction, the blob revision a locator names (even after the blob
   * changed). InvalidLocatorError when it is malformed, altered, or of another database or handlerton;
   * POSKeyError when the revision was reclaimed.
   */
  openLocator(locator: Locator | Uint8Array | string): Promise<BlobHandle>;
  /** Tid of the last committed transaction. */
  lastTransaction(): Tid;
  /**
   * The committed transactions with `since <= tid <= until`, in tid order, with the revisions each
   * wrote (the storage's `iterator`, capability `iterator`; NotSupportedError without it). Transactions
   * committed after the iteration started are not included. One transaction's records are in memory
   * at a time. InvalidArgumentError naming `options.since` / `options.until` for a bad bound.
   */
  transactions(range?: TransactionRange): AsyncIterable<CommittedTransaction<V>>;
  /**
   * Packs the storage as of `at` (default: now) and reclaims unreferenced blob revisions. Commits,
   * reads and blob writes in progress go on while it runs and lose nothing.
   */
  pack(at?: Date | Tid, options?: PackOptions): Promise<DatabasePackResult>;
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
