/**
 * Record shapes that cross the Storage contract.
 *
 * A stored record carries its bytes (opaque to the framework and the engine) and, next to them,
 * the references it makes: other oids and blob revisions. The external garbage collector and the
 * blob refcounts read only `refs`, never the application's encoding.
 */
import { InvalidArgumentError } from './errors.js';
import { assertU64, type BlobId, type Oid, type Tid } from './ids.js';

/** One blob revision, as a record refers to it. */
export interface BlobRef {
  /** Name of the blob handlerton holding the blob (e.g. "filestorage2"). */
  readonly handlerton: string;
  /** The blob's id within that handlerton. */
  readonly blobId: BlobId;
  /** The revision: the tid of the transaction that committed it. */
  readonly revision: Tid;
}

/** The refs that name blob handlerton `handlerton`, each checked (InvalidArgumentError for a malformed list or id). */
export function blobRefsOf(handlerton: string, refs: readonly BlobRef[]): BlobRef[] {
  if (!Array.isArray(refs)) throw new InvalidArgumentError('refs must be an array of BlobRef');
  return refs.filter((ref) => {
    assertU64(ref.blobId, 'blob ref blobId');
    assertU64(ref.revision, 'blob ref revision');
    return ref.handlerton === handlerton;
  });
}

/** What a record references. */
export interface RecordRefs {
  readonly oids: readonly Oid[];
  readonly blobs: readonly BlobRef[];
}

/** No references. */
export const NO_REFS: RecordRefs = Object.freeze({ oids: Object.freeze([]), blobs: Object.freeze([]) });

/** The payload a writer stores: bytes plus declared references. */
export interface RecordInput {
  /** The record's bytes: opaque, of any length (0 too) and any byte values; loads return exactly these bytes. */
  readonly data: Uint8Array;
  /** The references the record declares; a load returns them unchanged, in order. */
  readonly refs: RecordRefs;
}

/** One committed revision of an object. */
export interface LoadedRecord extends RecordInput {
  readonly oid: Oid;
  /** The serial: tid of the transaction that wrote this revision. */
  readonly tid: Tid;
}

/** A revision found by `loadBefore`, with the tid of the revision that replaced it. */
export interface LoadedRevision extends LoadedRecord {
  /** Tid of the next revision (or delete), or null when this revision is current. */
  readonly nextTid: Tid | null;
}

/**
 * Metadata of a transaction (ZODB's user, description, extension). The framework checks it once,
 * the same for every engine (util/validate.ts assertTransactionMeta): strings of at most 65535
 * UTF-8 bytes, an extension of plain JSON data up to 64 KiB; engines may rely on that.
 */
export interface TransactionMeta {
  readonly user: string;
  readonly description: string;
  /** JSON-serialisable extension data. */
  readonly extension: Readonly<Record<string, unknown>>;
}

/** One entry of `history`, newest first: a revision, with the metadata of the transaction that wrote it unchanged. */
export interface HistoryEntry {
  readonly tid: Tid;
  /** The wall-clock time of `tid` (`tidToDate(tid)`). */
  readonly time: Date;
  readonly user: string;
  readonly description: string;
  readonly extension: Readonly<Record<string, unknown>>;
  /** Size of the record's data in bytes; 0 for a delete. */
  readonly size: number;
  /** True when this revision is a delete marker. */
  readonly deleted: boolean;
}

/** A record within an iterated transaction; `record` is null for a delete. */
export interface IteratedRecord {
  readonly oid: Oid;
  readonly tid: Tid;
  readonly record: RecordInput | null;
}

/** A committed transaction as `iterator` yields it. */
export interface IteratedTransaction {
  readonly tid: Tid;
  /** ' ' committed, 'p' rewritten by pack. */
  readonly status: ' ' | 'p';
  /** The transaction's metadata as committed: user, description and extension unchanged. */
  readonly meta: TransactionMeta;
  /** The revisions the transaction wrote (delete markers included); empty for an empty transaction. */
  readonly records: readonly IteratedRecord[];
}

/** What `pack` did. */
export interface PackResult {
  /** Record revisions removed. */
  readonly removedRevisions: number;
  /** Objects removed entirely (deleted objects whose last revision went). */
  readonly removedObjects: number;
  /** Bytes freed, when the engine can tell (0 otherwise). */
  readonly reclaimedBytes: number;
}

/** What `Database.pack` did: the storage's pack, then the blob revisions it left unreferenced, reclaimed. */
export interface DatabasePackResult extends PackResult {
  /** Blob revisions reclaimed after the pack. */
  readonly reclaimedBlobRevisions: number;
  /** Their sizes in bytes. */
  readonly reclaimedBlobBytes: number;
}

/** Told by `pack` which blob references the removed revisions held, in batches. */
export interface PackObserver {
  releaseBlobRefs(refs: readonly BlobRef[]): Promise<void>;
}
