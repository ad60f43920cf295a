/**
 * Copies every committed transaction, with its blob revisions, from one engine pair into another
 * (ZODB's copyTransactionsFrom): tids, metadata, records and delete markers are preserved; blob
 * ids are re-allocated by the destination handlerton and the refs rewritten. Blob bytes stream in
 * 1 MiB chunks. The destination must be empty (or, incremental, hold an earlier copy of the source)
 * and claim `restore`; the source must claim `iterator`.
 */
import type { BlobHandlerton, BlobTransaction } from '../contracts/blob-handlerton.js';
import { blobTransaction } from '../contracts/blob-handlerton.js';
import { InvalidArgumentError, isHandlertonError, NotSupportedError } from '../contracts/errors.js';
import { toHex, type BlobId, type Oid, type Tid } from '../contracts/ids.js';
import type { BlobRef, IteratedTransaction, RecordInput } from '../contracts/records.js';
import { storageTransaction, type Storage } from '../contracts/storage.js';

/** One side of a copy. */
export interface EnginePair {
  readonly storage: Storage;
  readonly blobs: BlobHandlerton;
}

/** What a copy reads from its source: transactions in tid order and blob revisions (an engine pair, or a backup). */
export interface CopySource {
  readonly storage: Pick<Storage, 'name' | 'capabilities' | 'iterator'>;
  readonly blobs: Pick<BlobHandlerton, 'name' | 'capabilities' | 'openRevision' | 'latestRevision'>;
}

/** What a copy moved. */
export interface CopyResult {
  readonly transactions: number;
  readonly records: number;
  readonly blobRevisions: number;
  readonly blobBytes: number;
  /** Source blob id -> destination blob id (of the blobs this copy touched). */
  readonly blobIds: ReadonlyMap<BlobId, BlobId>;
  /** The destination's last transaction before the copy (0n: it was empty). */
  readonly resumedAfter: Tid;
}

const CHUNK = 1024 * 1024;

/** How `copyTransactions` runs. */
export interface CopyOptions {
  /**
   * Continue a previous copy (zodbconvert --incremental): the destination may hold transactions, and
   * its last one must be a transaction of the source; copying starts after it. Blob objects the
   * destination already holds keep their destination blob ids.
   */
  readonly incremental?: boolean;
  /** Copy only transactions up to this tid (a point-in-time restore). */
  readonly stop?: Tid;
  /** Called after each copied transaction (progress). */
  readonly onTransaction?: (tid: Tid, copied: number) => void;
}

/** Copies the transactions of `source` into the empty `destination` (or, incremental, those after the destination's last one). */
export async function copyTransactions(source: CopySource, destination: EnginePair, options: CopyOptions = {}): Promise<CopyResult> {
  if (!source.storage.capabilities.iterator) throw new NotSupportedError('iterator', source.storage.name);
  if (!destination.storage.capabilities.restore) throw new NotSupportedError('restore', destination.storage.name);
  const resumeAfter = destination.storage.lastTransaction();
  if (resumeAfter !== 0n && options.incremental !== true) throw new InvalidArgumentError('the destination storage must be empty (or copy incrementally to continue a previous copy)');
  if (resumeAfter !== 0n) await assertCopyOf(source.storage, destination.storage, resumeAfter);

  const blobIds = new Map<BlobId, BlobId>();
  const known = resumeAfter === 0n ? undefined : destination.storage;
  const totals = { transactions: 0, records: 0, blobRevisions: 0, blobBytes: 0 };
  for await (const txn of source.storage.iterator(resumeAfter === 0n ? undefined : resumeAfter + 1n, options.stop)) {
    const storageTxn = storageTransaction(txn.meta);
    const blobTxn = blobTransaction(`copy-${txn.tid}`);
    await destination.storage.tpcBegin(storageTxn, txn.tid);
    const newRefs: BlobRef[] = [];
    let drafts = 0;
    try {
      for (const rec of txn.records) {
        let record: RecordInput | null = null;
        if (rec.record !== null) {
          const refs: BlobRef[] = [];
          for (const ref of rec.record.refs.blobs) {
            await refuseUnreplayable(source.blobs, ref);
            const mapped = await mapBlob(ref, blobIds, destination.blobs, known, rec.oid);
            if (ref.revision === txn.tid && ref.revision !== 0n) {
              totals.blobBytes += await copyRevision(source.blobs, ref, destination.blobs, blobTxn, mapped.blobId, rec.oid);
              drafts++;
            }
            if (mapped.revision !== 0n) newRefs.push(mapped);
            refs.push(mapped);
          }
          record = { data: rec.record.data, refs: { oids: rec.record.refs.oids, blobs: refs } };
        }
        await destination.storage.restore(rec.oid, record, storageTxn);
        totals.records++;
      }
      if (newRefs.length > 0) await destination.blobs.addReferences(blobTxn, newRefs);
      if (newRefs.length > 0 || drafts > 0) await destination.blobs.prepare(blobTxn, txn.tid);
      await destination.storage.tpcVote(storageTxn);
    } catch (error) {
      await destination.storage.tpcAbort(storageTxn);
      await destination.blobs.rollback(blobTxn);
      throw error;
    }
    await destination.storage.tpcFinish(storageTxn);
    if (newRefs.length > 0 || drafts > 0) await destination.blobs.commit(blobTxn);
    totals.transactions++;
    totals.blobRevisions += drafts;
    options.onTransaction?.(txn.tid, totals.transactions);
  }
  return { ...totals, blobIds, resumedAfter: resumeAfter };
}

/** The destination's last transaction must be one of the source's (same tid and metadata): else it is not a copy of it. */
async function assertCopyOf(source: CopySource['storage'], destination: Storage, last: Tid): Promise<void> {
  let match: IteratedTransaction | undefined;
  for await (const txn of source.iterator(last, last)) match = txn;
  let own: IteratedTransaction | undefined;
  for await (const txn of destination.iterator(last, last)) own = txn;
  const same =
    match !== undefined &&
    own !== undefined &&
    match.meta.user === own.meta.user &&
    match.meta.description === own.meta.description &&
    match.records.length === own.records.length;
  if (!same) {
    throw new InvalidArgumentError(`the destination's last transaction ${toHex(last)} is not a transaction of the source: the destination is not a copy of it`);
  }
}

/**
 * The framework's blob objects in the transactional / nontransactional modes name revision 0 and
 * keep their data in the blob's latest revision, outside the storage's history: such a blob cannot
 * be replayed transaction by transaction.
 */
async function refuseUnreplayable(blobs: CopySource['blobs'], ref: BlobRef): Promise<void> {
  if (ref.revision !== 0n || blobs.capabilities.mode === 'dataTransactional') return;
  if ((await blobs.latestRevision(ref.blobId)) !== null) {
    throw new NotSupportedError(`copy of ${blobs.capabilities.mode} blob data (blob ${toHex(ref.blobId)} is not in the storage's history)`, blobs.name);
  }
}

/**
 * The destination blob id of a source blob: mapped before, or (continuing a copy) the one the
 * destination's current record of `oid` names, or a new blob.
 */
async function mapBlob(ref: BlobRef, blobIds: Map<BlobId, BlobId>, blobs: BlobHandlerton, known: Storage | undefined, oid: Oid): Promise<BlobRef> {
  let blobId = blobIds.get(ref.blobId);
  if (blobId === undefined && known !== undefined) blobId = await copiedBlobId(known, blobs.name, oid);
  if (blobId === undefined) blobId = await blobs.createBlob();
  blobIds.set(ref.blobId, blobId);
  return { handlerton: blobs.name, blobId, revision: ref.revision };
}

/** The blob id the destination's current revision of `oid` references in `handlerton`, if any. */
async function copiedBlobId(storage: Storage, handlerton: string, oid: Oid): Promise<BlobId | undefined> {
  try {
    const current = await storage.load(oid);
    return current.refs.blobs.find((ref) => ref.handlerton === handlerton)?.blobId;
  } catch (error) {
    if (isHandlertonError(error, 'HANDLERTON_POS_KEY')) return undefined;
    throw error;
  }
}

async function copyRevision(
  from: CopySource['blobs'],
  ref: BlobRef,
  to: BlobHandlerton,
  txn: BlobTransaction,
  blobId: BlobId,
  oid: Oid,
): Promise<number> {
  const reader = await from.openRevision(ref.blobId, ref.revision as Tid);
  try {
    const draft = await to.createDraft(txn, blobId, oid, null);
    const buffer = new Uint8Array(Math.min(CHUNK, Math.max(reader.size, 1)));
    let position = 0;
    while (position < reader.size) {
      const n = await reader.read(buffer, position);
      if (n === 0) break;
      await draft.write(buffer.subarray(0, n), position);
      position += n;
    }
    return position;
  } finally {
    await reader.close();
  }
}
