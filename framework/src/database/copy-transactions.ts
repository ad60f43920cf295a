/**
 * Copies every committed transaction, with its blob revisions, from one engine pair into another
 * (ZODB's copyTransactionsFrom): tids, metadata, records and delete markers are preserved; blob
 * ids are re-allocated by the destination handlerton and the refs rewritten. Blob bytes stream in
 * 1 MiB chunks. The destination must be empty and claim `restore`; the source must claim `iterator`.
 */
import type { BlobHandlerton, BlobTransaction } from '../contracts/blob-handlerton.js';
import { blobTransaction } from '../contracts/blob-handlerton.js';
import { InvalidArgumentError, NotSupportedError } from '../contracts/errors.js';
import type { BlobId, Oid, Tid } from '../contracts/ids.js';
import type { BlobRef, RecordInput } from '../contracts/records.js';
import { storageTransaction, type Storage } from '../contracts/storage.js';

/** One side of a copy. */
export interface EnginePair {
  readonly storage: Storage;
  readonly blobs: BlobHandlerton;
}

/** What a copy moved. */
export interface CopyResult {
  readonly transactions: number;
  readonly records: number;
  readonly blobRevisions: number;
  readonly blobBytes: number;
  /** Source blob id -> destination blob id. */
  readonly blobIds: ReadonlyMap<BlobId, BlobId>;
}

const CHUNK = 1024 * 1024;

/** Copies all transactions of `source` into the empty `destination`. */
export async function copyTransactions(source: EnginePair, destination: EnginePair): Promise<CopyResult> {
  if (!source.storage.capabilities.iterator) throw new NotSupportedError('iterator', source.storage.name);
  if (!destination.storage.capabilities.restore) throw new NotSupportedError('restore', destination.storage.name);
  if (destination.storage.lastTransaction() !== 0n) throw new InvalidArgumentError('the destination storage must be empty');

  const blobIds = new Map<BlobId, BlobId>();
  const totals = { transactions: 0, records: 0, blobRevisions: 0, blobBytes: 0 };
  for await (const txn of source.storage.iterator()) {
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
            const mapped = await mapBlob(ref, blobIds, destination.blobs);
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
  }
  return { ...totals, blobIds };
}

/**
 * The framework's blob objects in the transactional / nontransactional modes name revision 0 and
 * keep their data in the blob's latest revision, outside the storage's history: such a blob cannot
 * be replayed transaction by transaction.
 */
async function refuseUnreplayable(blobs: BlobHandlerton, ref: BlobRef): Promise<void> {
  if (ref.revision !== 0n || blobs.capabilities.mode === 'dataTransactional') return;
  if ((await blobs.latestRevision(ref.blobId)) !== null) {
    throw new NotSupportedError(`copy of ${blobs.capabilities.mode} blob data (blob ${ref.blobId} is not in the storage's history)`, blobs.name);
  }
}

async function mapBlob(ref: BlobRef, blobIds: Map<BlobId, BlobId>, blobs: BlobHandlerton): Promise<BlobRef> {
  let blobId = blobIds.get(ref.blobId);
  if (blobId === undefined) {
    blobId = await blobs.createBlob();
    blobIds.set(ref.blobId, blobId);
  }
  return { handlerton: blobs.name, blobId, revision: ref.revision };
}

async function copyRevision(
  from: BlobHandlerton,
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
