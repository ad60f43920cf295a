/** Copies every transaction (records and blob revisions) from one engine pair into another. */
import {
  blobTransaction,
  storageTransaction,
  type BlobId,
  type BlobRef,
  type RecordInput,
} from '@handlerton/framework';
import type { Engines } from '../types.js';

/** Copies `source` into `target` through iterator + restore; returns the blob id mapping (source -> target). */
export async function copyTransactions(source: Engines, target: Engines): Promise<Map<BlobId, BlobId>> {
  const blobMap = new Map<BlobId, BlobId>();
  const chunk = new Uint8Array(64 * 1024);
  for await (const t of source.storage.iterator()) {
    const txn = storageTransaction(t.meta);
    const btxn = blobTransaction('copy');
    await target.storage.tpcBegin(txn, t.tid);
    try {
      const refs: BlobRef[] = [];
      for (const r of t.records) {
        let record: RecordInput | null = r.record;
        if (record !== null && record.refs.blobs.length > 0) {
          const mapped: BlobRef[] = [];
          for (const ref of record.refs.blobs) {
            let targetId = blobMap.get(ref.blobId);
            if (targetId === undefined) {
              targetId = await target.blobs.createBlob();
              blobMap.set(ref.blobId, targetId);
            }
            const m: BlobRef = { handlerton: target.blobs.name, blobId: targetId, revision: ref.revision };
            mapped.push(m);
            if (ref.revision === t.tid) {
              const draft = await target.blobs.createDraft(btxn, targetId, r.oid, null);
              const reader = await source.blobs.openRevision(ref.blobId, ref.revision);
              try {
                let at = 0;
                for (;;) {
                  const n = await reader.read(chunk, at);
                  if (n === 0) break;
                  await draft.write(chunk.subarray(0, n), at);
                  at += n;
                }
              } finally {
                await reader.close();
              }
            }
          }
          refs.push(...mapped);
          record = { data: record.data, refs: { oids: record.refs.oids, blobs: mapped } };
        }
        await target.storage.restore(r.oid, record, txn);
      }
      await target.blobs.addReferences(btxn, refs);
      await target.storage.tpcVote(txn);
      await target.blobs.prepare(btxn, t.tid);
      await target.storage.tpcFinish(txn);
      await target.blobs.commit(btxn);
    } catch (e) {
      await target.blobs.rollback(btxn);
      await target.storage.tpcAbort(txn);
      throw e;
    }
  }
  return blobMap;
}
