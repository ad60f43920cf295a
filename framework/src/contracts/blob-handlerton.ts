/**
 * The BlobHandlerton contract (after MySQL WL#3583): blob storage as its own plugin, shareable
 * between storage engines.
 *
 * A blob has an id; its committed contents are immutable *revisions*, each named by the tid of
 * the transaction that committed it. Uncommitted data lives in *drafts*, private to one blob
 * transaction. The framework's coordinator (not the engine) enforces the open-mode rules,
 * "N readers xor 1 writer", handle lifetimes and locators; an engine stores bytes, keeps
 * revisions alive while referenced, and makes commits atomic and durable.
 *
 * Rules every implementation keeps:
 * - Bytes are streamed: no method holds a whole blob in memory; reads and writes move at most the
 *   bytes asked for.
 * - A draft is invisible to every reader until `commit`; `rollback` leaves no trace of it.
 * - `prepare` makes every draft of the transaction and its reference changes durable (for a
 *   durable handlerton) but not yet visible; after it returns, `commit` must not fail but for a
 *   dead disk, and `rollback` must never fail.
 * - A committed revision stays readable while it is referenced: by records (`addReferences`,
 *   `releaseReferences`) or by open readers. When both counts reach zero it is reclaimed — at
 *   the latest by the next `reclaim()`; an open reader keeps working after its revision lost its
 *   last record reference, and closing that reader lets the revision go.
 * - The framework calls `commit` right after the storage's `tpcFinish`; between the two a record
 *   may already name a revision the handlerton has not published. The framework makes readers of
 *   that revision wait for `commit` to return, so `openRevision` may treat a prepared revision as
 *   missing (POSKeyError).
 * - With `partialUpdate`, a draft based on a revision shares the unchanged bytes with it:
 *   writing 4 KiB into a 1 GiB blob costs about 4 KiB (plus one chunk), not 1 GiB.
 */
import type { BlobCapabilities } from './capabilities.js';
import type { BlobId, Oid, Tid } from './ids.js';
import type { BlobRef } from './records.js';
import type { EngineStats } from './storage.js';
import type { EngineVerifyReport, VerifyObserver } from './verify.js';

/**
 * The largest size a blob may have, in bytes (256 TiB), the same for every engine. A write ending
 * past it, a truncate or a seek-then-write beyond it raises InvalidArgumentError and changes
 * nothing. Engines check it too (drafts and raw handlerton calls), so offsets stay exact in doubles.
 */
export const MAX_BLOB_SIZE = 2 ** 48;

/** The caller's blob transaction: an object whose identity ties drafts, prepare and commit together. */
export interface BlobTransaction {
  /** For diagnostics only. */
  readonly label: string;
}

let blobTxnCounter = 0;
/** Creates a new BlobTransaction. */
export function blobTransaction(label?: string): BlobTransaction {
  blobTxnCounter += 1;
  return Object.freeze({ label: label ?? `blob-txn-${blobTxnCounter}` });
}

/** Random-access reader of one committed revision. Holds the revision alive until closed. */
export interface RevisionReader {
  /** The revision's size in bytes. */
  readonly size: number;
  /** Reads up to `target.length` bytes at `position` into `target`; returns the count (0 at or past the end). */
  read(target: Uint8Array, position: number): Promise<number>;
  /** Releases the revision. Idempotent. */
  close(): Promise<void>;
}

/** Uncommitted data of one blob in one blob transaction. */
export interface BlobDraft {
  /** The blob this draft will become a revision of. */
  readonly blobId: BlobId;
  /** The draft's current size in bytes. */
  size(): number;
  /** Reads up to `target.length` bytes at `position`; returns the count (0 at or past the end). */
  read(target: Uint8Array, position: number): Promise<number>;
  /** Writes `source` at `position`; writing past the end fills the gap with zeros. */
  write(source: Uint8Array, position: number): Promise<void>;
  /** Cuts or zero-extends the draft to `size` bytes. */
  truncate(size: number): Promise<void>;
}

/** A revision prepared but not known to be committed, found by `recover` after a crash. */
export interface PendingRevision {
  readonly blobId: BlobId;
  readonly revision: Tid;
  /** The oid of the record the draft was created for (the blob object). */
  readonly oid: Oid;
}

/**
 * A prepared transaction that only added references (it has no draft), found by `recover`: whether
 * it committed is told by the storage transaction `tid`, which stored record `witness`.
 */
export interface PendingReferences {
  /** The tid given to `prepare` (the storage transaction's). */
  readonly tid: Tid;
  /** The oid given to `prepare` as witness: a record stored by that storage transaction. */
  readonly witness: Oid;
}

/** Blob storage, implemented by every blob engine. */
export interface BlobHandlerton {
  /** The handlerton's name, non-empty, recorded in BlobRefs and bound into locators (e.g. "filestorage2"). */
  readonly name: string;
  /** The capability manifest: fixed for the life of the object. */
  readonly capabilities: BlobCapabilities;
  /**
   * The file or directory holding the blobs, when the handlerton keeps them in files: the Database
   * names it in the CorruptionError it raises when a committed record references a revision that
   * `openRevision` does not find.
   */
  readonly location?: string;

  /**
   * The newest revision among the last few the handlerton committed (it need not scan them all), or
   * null when it has none. Optional. Every committed revision is the tid of a storage transaction that
   * committed before it, so at open the Database checks that a crash-safe storage's last transaction
   * is not older: if it is, the storage lost committed transactions (CorruptionError).
   */
  newestRevision?(): Promise<Tid | null>;

  /** Allocates a new blob id, distinct from every id it handed out before (no revision exists yet). */
  createBlob(): Promise<BlobId>;

  /** Opens a committed revision for reading. POSKeyError when it does not exist (or was reclaimed). */
  openRevision(blobId: BlobId, revision: Tid): Promise<RevisionReader>;

  /** The newest committed revision of `blobId`, or null when it has none. */
  latestRevision(blobId: BlobId): Promise<Tid | null>;

  /**
   * Creates the draft of `blobId` in `txn`: empty when `base` is null, else starting from revision
   * `base` (POSKeyError when that revision is missing). `oid` is the record the blob belongs to
   * (used by `recover`). One draft per blob per transaction: a second call replaces the first.
   */
  createDraft(txn: BlobTransaction, blobId: BlobId, oid: Oid, base: Tid | null): Promise<BlobDraft>;

  /** Counts one record reference per entry when `txn` commits (refs of records stored in it). */
  addReferences(txn: BlobTransaction, refs: readonly BlobRef[]): Promise<void>;

  /**
   * Makes `txn`'s drafts (and added references) durable as revision `revision` of their blobs, not
   * yet visible. `witness`, when given, is an oid the storage transaction `revision` stores: recover
   * uses it to decide a transaction that only added references.
   */
  prepare(txn: BlobTransaction, revision: Tid, witness?: Oid): Promise<void>;

  /** Publishes a prepared `txn`: its revisions become readable and its references count. */
  commit(txn: BlobTransaction): Promise<void>;

  /** Discards `txn`'s drafts (prepared or not). Never throws; unknown transactions are ignored. */
  rollback(txn: BlobTransaction): Promise<void>;

  /** Drops one record reference per entry, at once (used by pack). Unknown revisions are ignored. */
  releaseReferences(refs: readonly BlobRef[]): Promise<void>;

  /** Record references plus open readers of a revision; 0 when it does not exist. */
  refcount(blobId: BlobId, revision: Tid): Promise<number>;

  /**
   * Removes every committed revision with no record reference and no open reader; returns how many
   * and their sizes (logical bytes: a handlerton that shares unchanged chunks between revisions may
   * free less on disk).
   */
  reclaim(): Promise<ReclaimResult>;

  /**
   * After a crash between `prepare` and `commit`: for each prepared revision, asks whether the
   * enclosing storage transaction committed, then commits or discards it. A prepared transaction
   * with references only is decided by `hasCommitted` when it was prepared with a witness (else it
   * is published: counting a reference too many leaks space, counting one too few could lose data).
   * Optional: handlertons that are not durable have nothing to recover.
   */
  recover?(
    isCommitted: (pending: PendingRevision) => Promise<boolean>,
    hasCommitted?: (pending: PendingReferences) => Promise<boolean>,
  ): Promise<void>;

  /** Optional: the handlerton's own figures for `handlerton stats` (revision files, chunk pages, WAL size, ...). Read-only and cheap. */
  stats?(): Promise<EngineStats>;

  /**
   * Optional: the handlerton's own consistency check for `handlerton verify`: checksums of every
   * stored chunk, its revision bookkeeping (sizes, reference counts) against the files it keeps.
   * Read-only; reports problems instead of throwing for them. Without it only the revisions that
   * records reference are read (the generic check).
   */
  verify?(observer?: VerifyObserver): Promise<EngineVerifyReport>;

  /**
   * Closes the handlerton: rolls back transactions that are not prepared and releases files.
   * Idempotent. A prepared transaction that was never committed is left as it is on disk (the
   * storage's finish may have failed after its records were written): `recover` decides it at the
   * next open. A handlerton that is not durable simply drops it.
   */
  close(): Promise<void>;
}

/** What `BlobHandlerton.reclaim` removed. */
export interface ReclaimResult {
  /** Committed revisions removed. */
  readonly revisions: number;
  /** Their sizes in bytes, summed. */
  readonly bytes: number;
}
