/** Record-level helpers over the Storage contract: small commits and bulk fills. */
import { NO_REFS, storageTransaction, type Oid, type Storage, type Tid } from '@handlerton/framework';
import { yieldLoop } from './io.js';

/** The part of the Storage contract a commit uses. */
export type CommitApi = Pick<Storage, 'newOid' | 'tpcBegin' | 'store' | 'tpcVote' | 'tpcFinish' | 'tpcAbort'>;

/** Commits one transaction storing `records` (new objects when serial is 0n); returns its tid. */
export async function commitRecords(
  storage: CommitApi,
  records: readonly { oid: Oid; serial: Tid; data: Uint8Array }[],
): Promise<Tid> {
  const txn = storageTransaction({ description: 'bench' });
  await storage.tpcBegin(txn);
  try {
    for (const r of records) await storage.store(r.oid, r.serial, { data: r.data, refs: NO_REFS }, txn);
    await storage.tpcVote(txn);
    return await storage.tpcFinish(txn);
  } catch (error) {
    await storage.tpcAbort(txn);
    throw error;
  }
}

/** Commits one transaction deleting `objects` (external-GC deletes). */
export async function commitDeletes(storage: Storage, objects: readonly { oid: Oid; serial: Tid }[]): Promise<Tid> {
  const txn = storageTransaction({ description: 'bench gc' });
  await storage.tpcBegin(txn);
  try {
    for (const o of objects) await storage.deleteObject(o.oid, o.serial, txn);
    await storage.tpcVote(txn);
    return await storage.tpcFinish(txn);
  } catch (error) {
    await storage.tpcAbort(txn);
    throw error;
  }
}

/** Allocates `count` new oids. */
export async function newOids(storage: CommitApi, count: number): Promise<Oid[]> {
  const out: Oid[] = [];
  for (let i = 0; i < count; i += 1) out.push(await storage.newOid());
  return out;
}

/**
 * Creates `count` objects in transactions of `perTxn` records, calling `afterBatch` after each
 * (e.g. to seal a segment); returns oids and serials.
 */
export async function fillObjects(
  storage: Storage,
  count: number,
  perTxn: number,
  payload: (i: number) => Uint8Array,
  afterBatch?: (created: number) => Promise<void>,
): Promise<{ oids: Oid[]; serials: Tid[] }> {
  const oids: Oid[] = [];
  const serials: Tid[] = [];
  for (let first = 0; first < count; first += perTxn) {
    const n = Math.min(perTxn, count - first);
    const batch = await newOids(storage, n);
    const tid = await commitRecords(
      storage,
      batch.map((oid, j) => ({ oid, serial: 0n, data: payload(first + j) })),
    );
    for (const oid of batch) {
      oids.push(oid);
      serials.push(tid);
    }
    if (afterBatch !== undefined) await afterBatch(first + n);
    await yieldLoop();
  }
  return { oids, serials };
}
