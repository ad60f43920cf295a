/**
 * The Storage contract: transactional object records with MVCC (after ZODB's IStorage).
 *
 * Invariants every implementation keeps:
 * - Tids strictly increase. `lastTransaction()` never decreases and moves only when a
 *   transaction finishes; a reader that saw tid T never later sees a state older than T.
 * - One storage transaction commits at a time: `tpcBegin` with another transaction active
 *   waits until that one finishes or aborts (the commit lock). An engine may release the lock
 *   once a transaction's position in the commit order is fixed (group commit), as long as
 *   readers only see a transaction after it is durable and after every earlier one.
 * - After `tpcVote` returns, `tpcFinish` must not fail for any reason but a dead disk (which
 *   is fail-stop: the engine refuses further writes), and `tpcAbort` must never fail.
 * - A transaction becomes visible all at once: no read (`load`, `loadBefore`, `iterator`, ...) sees
 *   any of it before `tpcFinish` publishes it, and nothing of an aborted one is ever visible, before
 *   or after a reopen.
 * - A call needing a capability the engine does not claim raises NotSupportedError.
 * - Records are values: the bytes and references handed to `store`/`storeMany`/`restore` are the
 *   engine's own copy once the call returns (the caller may reuse its buffer), and every record a
 *   read returns is the caller's own copy (changing it changes nothing stored or read later).
 * - Arguments are checked before they reach an engine: out-of-range oids and tids (not unsigned
 *   64-bit), malformed records, metadata and transactions raise InvalidArgumentError, and every
 *   call after `close()` raises StorageClosedError. That is the framework's job (RuntimeStorage,
 *   which `openDatabase` puts in front of every engine and the conformance CLI tests through); an
 *   engine used bare (`handlerton-conformance --raw`) must do it itself.
 * - A call that returns a promise reports every error as a rejection of that promise, never as a
 *   synchronous throw.
 */
import type { StorageCapabilities } from './capabilities.js';
import type { EngineVerifyReport, VerifyObserver } from './verify.js';
import type { Oid, Tid } from './ids.js';
import type {
  HistoryEntry,
  IteratedTransaction,
  LoadedRecord,
  LoadedRevision,
  PackObserver,
  PackResult,
  RecordInput,
  TransactionMeta,
} from './records.js';

/** One write of a `storeMany` batch: a new revision of `oid` based on `serial`, or (record null) a delete marker. */
export interface StoreWrite {
  readonly oid: Oid;
  readonly serial: Tid;
  /** The new revision; null writes a delete marker (as `deleteObject`). */
  readonly record: RecordInput | null;
}

/**
 * Hands `writes` to `storage` in one batch: its native `storeMany` when it has one, else `store` /
 * `deleteObject` for each write in order. Either way the effect and the errors are the same.
 */
export async function storeMany(storage: Storage, writes: readonly StoreWrite[], txn: StorageTransaction): Promise<void> {
  if (storage.storeMany !== undefined) return storage.storeMany(writes, txn);
  return storeEach(storage, writes, txn);
}

/** The fallback of `storeMany`: `store` / `deleteObject` for each write in order (never the native batch). */
export async function storeEach(storage: Storage, writes: readonly StoreWrite[], txn: StorageTransaction): Promise<void> {
  for (const write of writes) {
    if (write.record === null) await storage.deleteObject(write.oid, write.serial, txn);
    else await storage.store(write.oid, write.serial, write.record, txn);
  }
}

/** What `invalidationsSince` reports: the objects changed after a tid, up to `tid`. */
export interface Invalidations {
  readonly tid: Tid;
  /** The changed objects; null when the engine cannot tell (every cached record is then dropped). */
  readonly oids: readonly Oid[] | null;
}

/** The caller's transaction: an object whose identity ties the 2PC calls together. */
export interface StorageTransaction {
  readonly meta: TransactionMeta;
}

/** Creates a StorageTransaction with the given metadata (defaults: empty strings, no extension). */
export function storageTransaction(meta: Partial<TransactionMeta> = {}): StorageTransaction {
  return {
    meta: Object.freeze({ user: meta.user ?? '', description: meta.description ?? '', extension: meta.extension ?? {} }),
  };
}

/** Transactional record storage, implemented by every engine. */
export interface Storage {
  /** The engine's name, non-empty, e.g. "memory". */
  readonly name: string;
  /** The capability manifest: fixed for the life of the object. */
  readonly capabilities: StorageCapabilities;
  /** A random unsigned 64-bit id of this database, stable across reopen for durable engines (bound into locators). */
  readonly databaseId: bigint;
  /** The file or directory holding the records, when the engine keeps them in files (named by the Database's CorruptionErrors). */
  readonly location?: string;

  /**
   * Reserves a new oid, greater than every oid stored or handed out before. Oid 0 is the root and is
   * never handed out: the first oid of an empty storage is 1. ReadOnlyError when read-only.
   */
  newOid(): Promise<Oid>;

  /** The current revision of `oid`. POSKeyError when unknown or deleted. */
  load(oid: Oid): Promise<LoadedRecord>;

  /** The revision of `oid` written by transaction `tid`. POSKeyError when there is none (or it was packed away). */
  loadSerial(oid: Oid, tid: Tid): Promise<LoadedRecord>;

  /**
   * The newest revision of `oid` committed strictly before `tid`, with the tid of the revision after it.
   * Returns null when the object has no revision before `tid` (created at or after it).
   * POSKeyError when `oid` is unknown, or when the revision found is a delete marker.
   * The revision found for a given `tid` never changes as later transactions commit (only its `nextTid` fills in).
   */
  loadBefore(oid: Oid, tid: Tid): Promise<LoadedRevision | null>;

  /**
   * The pack horizon: the highest effective pack tid (`min(packTid, lastTransaction())`) of every pack
   * that started, persisted across reopen by durable engines; 0n when never packed. The state as of
   * any tid at or after it is whole; a view older than it may miss revisions that pack removed, so the
   * framework answers a read that finds nothing there with ReadConflictError instead of "does not exist".
   * An engine whose pack removes rows in steps raises it before the first removal.
   */
  packHorizon(): Tid;

  /** The tid of the last finished transaction; 0n when nothing was committed. */
  lastTransaction(): Tid;

  /**
   * Starts the commit of `txn` and returns its tid, greater than `lastTransaction()` (fixed here: it is
   * the serial of every revision the transaction writes and what `tpcFinish` returns).
   * `tid`, when given (restore/copy path, capability `restore`), must exceed `lastTransaction()`
   * (InvalidArgumentError or StorageTransactionError otherwise).
   * Waits while another transaction commits. StorageTransactionError when `txn` is already active;
   * ReadOnlyError when read-only.
   */
  tpcBegin(txn: StorageTransaction, tid?: Tid): Promise<Tid>;

  /**
   * Stores a new revision of `oid`. `serial` is the tid of the revision the writer based its change on
   * (0n for a new object; for an object whose current revision is a delete marker, 0n or the marker's
   * tid, as ZODB FileStorage accepts). ConflictError when it is not the current serial (raised here or at vote).
   * Storing one oid twice in a transaction keeps the last. StorageTransactionError when `txn` is not active.
   */
  store(oid: Oid, serial: Tid, record: RecordInput, txn: StorageTransaction): Promise<void>;

  /**
   * Writes a delete marker for `oid` (external GC, capability `externalGC`). POSKeyError when the
   * object has no current revision; ConflictError when `serial` is not its current serial;
   * StorageTransactionError when `txn` is not active. Older snapshots (`loadBefore`) and `loadSerial`
   * keep reading the previous revisions until a pack passes them.
   */
  deleteObject(oid: Oid, serial: Tid, txn: StorageTransaction): Promise<void>;

  /**
   * Optional: the stores and deletes of one transaction in one call (a batch), with exactly the effect
   * of calling `store` (record non-null) or `deleteObject` (record null) for each write in order, and
   * the same errors: the first failing write throws and the caller aborts the transaction (writes before
   * it may have been recorded, as with separate calls). Engines implement it to batch per-record work
   * (lookups, encodings, awaits); callers use `storeMany()` from the framework, which falls back to a
   * loop over `store`/`deleteObject` when an engine does not implement it.
   */
  storeMany?(writes: readonly StoreWrite[], txn: StorageTransaction): Promise<void>;

  /**
   * Writes an already committed revision verbatim, without conflict checks (copy path, capability
   * `restore`); `record` null writes a delete marker.
   */
  restore(oid: Oid, record: RecordInput | null, txn: StorageTransaction): Promise<void>;

  /**
   * Last chance to fail: conflicts and I/O errors surface here at the latest, and the caller aborts
   * (none of the transaction's writes commit). StorageTransactionError when `txn` is not active.
   */
  tpcVote(txn: StorageTransaction): Promise<void>;

  /**
   * Makes the transaction durable (per the engine's sync mode), publishes it, releases the lock; returns
   * its tid. A transaction that wrote nothing commits too: its tid becomes `lastTransaction()`.
   * StorageTransactionError when `txn` is not active.
   */
  tpcFinish(txn: StorageTransaction): Promise<Tid>;

  /** Discards the transaction and releases the commit lock. Never throws; aborting a transaction that is not active does nothing. */
  tpcAbort(txn: StorageTransaction): Promise<void>;

  /** Up to `size` revisions of `oid`, newest first (capability `history`). POSKeyError when unknown. */
  history(oid: Oid, size?: number): Promise<HistoryEntry[]>;

  /**
   * Committed transactions with `start <= tid <= stop`, in tid order (capability `iterator`); after a
   * pack, with only the revisions it kept. A snapshot: transactions committed after the call are not
   * included. Each call starts a new walk.
   */
  iterator(start?: Tid, stop?: Tid): AsyncIterable<IteratedTransaction>;

  /**
   * Removes, per object, every revision older than the one current at `packTid`, and every revision
   * of an object whose current revision at `packTid` is a delete marker (capability `pack`).
   * Keeps everything committed after `packTid`, and the current revision of every object that is not
   * deleted: pack collects no unreachable object (that is the external GC's `deleteObject`).
   * Commits and reads go on while it runs. Reports the blob references of removed revisions to
   * `observer`. PackInProgressError when a pack already runs. A pack to a time before an earlier
   * pack's loses nothing (it finds nothing left to remove, or raises a typed error).
   */
  pack(packTid: Tid, observer?: PackObserver): Promise<PackResult>;

  /**
   * Optional, for durable engines: a per-database secret (32+ random bytes) kept with the database,
   * from which the framework derives the locator key when no `locatorSecret` is configured, so that
   * locators survive a reopen. Created on the first call (file mode 0600, written durably: temporary
   * file, fsync, rename, fsync of the directory); later calls and reopens return the same bytes.
   * Returns null when it cannot be kept (a read-only open of a database that has none): the framework
   * then uses a random key for this open. Engines without durable state (memory) omit it.
   */
  locatorSecret?(): Promise<Uint8Array | null>;

  /**
   * Optional, for engines shared by several clients (processes or machines, e.g. PostgreSQL): the
   * objects changed by transactions that other clients committed after `since`, up to the returned
   * `tid` (at least the `lastTransaction()` seen when the call began). `oids` null means "cannot tell"
   * (e.g. `since` is older than the engine keeps a change log for): the caller then drops its whole
   * record cache. The framework calls it before a cached read whenever `lastTransaction()` moved past
   * what its cache knows, so an engine that omits it gets its cache cleared on every foreign commit.
   */
  invalidationsSince?(since: Tid): Promise<Invalidations>;

  /**
   * Optional, for engines shared by several clients: asks the server for the newest transaction any
   * client committed (and the newest pack horizon), so that `lastTransaction()` and `packHorizon()`
   * reflect them; returns the new `lastTransaction()`. The Database awaits it before it picks the view
   * of `transaction()` and `snapshot()`, so a transaction that starts after another client's commit
   * returned sees that commit (`begin()`, which is synchronous, uses what the last sync saw).
   * Single-process engines omit it: their `lastTransaction()` is always current.
   */
  sync?(): Promise<Tid>;

  /**
   * Optional: engine detail for `handlerton stats` (segment counts and sizes, page counts, WAL size,
   * ...), as flat name/value pairs; names are the engine's own, values are plain numbers, strings or
   * flags. Read-only and cheap (no scan of the data). Engines without detail omit it.
   */
  stats?(): Promise<EngineStats>;

  /**
   * Optional: the engine's own consistency check for `handlerton verify`, below the contracts:
   * checksums of every stored byte, internal indexes against the data they index, tails a
   * recovery would cut. Read-only (never repairs or truncates); reports problems instead of
   * throwing for them. Engines without one get only the generic check (iterate, read, resolve).
   */
  verify?(observer?: VerifyObserver): Promise<EngineVerifyReport>;

  /** Closes the storage: aborts a pending transaction, releases files and locks. Idempotent; later reads and writes raise StorageClosedError (`tpcAbort` still never throws). */
  close(): Promise<void>;
}

/** An engine's own figures for `handlerton stats`: flat name/value pairs. */
export type EngineStats = Readonly<Record<string, number | string | boolean>>;
