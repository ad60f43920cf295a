/**
 * The external garbage collector (after zc.zodbdgc): marks every object reachable from the root
 * through declared refs, then deletes the rest with deleteObject, in batches of transactions.
 * An object changed since it was marked (ConflictError) or already gone (POSKeyError) is skipped,
 * so live data is never deleted. Transactions that commit while the collector marks are treated as
 * roots. Residual race (as in zc.zodbdgc): a transaction that re-links an unreachable object it
 * still holds, committing between the final scan and the delete, loses that object; run the
 * collector when no writer holds references to unreachable objects. Space is reclaimed by a later pack.
 */
import type { Logger } from '../contracts/context.js';
import type { GcResult } from '../contracts/database.js';
import { isHandlertonError, NotSupportedError } from '../contracts/errors.js';
import type { Oid, Tid } from '../contracts/ids.js';
import { ROOT_OID } from '../contracts/ids.js';
import { storageTransaction, type Storage } from '../contracts/storage.js';

const BATCH = 500;

/** Deletes every object unreachable from the root; returns counts. */
export async function collectGarbage(storage: Storage, logger: Logger): Promise<GcResult> {
  for (const capability of ['iterator', 'externalGC'] as const) {
    if (!storage.capabilities[capability]) throw new NotSupportedError(capability, storage.name);
  }
  const startTid = storage.lastTransaction();
  const live = await currentObjects(storage);
  const reachable = await markReachable(storage, live, [ROOT_OID]);
  // Whatever committed while we marked is live, as is everything it references.
  const recent: Oid[] = [];
  for await (const txn of storage.iterator(startTid + 1n)) {
    for (const rec of txn.records) if (rec.record !== null) recent.push(rec.oid, ...rec.record.refs.oids);
  }
  for (const oid of await markReachable(storage, live, recent)) reachable.add(oid);
  const garbage = [...live.entries()].filter(([oid]) => !reachable.has(oid));
  let deleted = 0;
  for (let i = 0; i < garbage.length; i += BATCH) {
    deleted += await deleteBatch(storage, garbage.slice(i, i + BATCH));
  }
  logger.info({ reachable: reachable.size, deleted }, 'garbage collected');
  return { reachable: reachable.size, deleted };
}

/** Every oid whose newest revision is not a delete marker, with that revision's tid. */
async function currentObjects(storage: Storage): Promise<Map<Oid, Tid>> {
  const live = new Map<Oid, Tid>();
  for await (const txn of storage.iterator()) {
    for (const rec of txn.records) {
      if (rec.record === null) live.delete(rec.oid);
      else live.set(rec.oid, rec.tid);
    }
  }
  return live;
}

async function markReachable(storage: Storage, live: Map<Oid, Tid>, roots: readonly Oid[]): Promise<Set<Oid>> {
  const reachable = new Set<Oid>();
  const pending: Oid[] = [...roots];
  while (pending.length > 0) {
    const oid = pending.pop()!;
    if (reachable.has(oid) || !live.has(oid)) continue;
    reachable.add(oid);
    let record;
    try {
      record = await storage.load(oid);
    } catch (error) {
      if (isHandlertonError(error, 'HANDLERTON_POS_KEY')) continue;
      throw error;
    }
    for (const ref of record.refs.oids) if (!reachable.has(ref)) pending.push(ref);
  }
  return reachable;
}

async function deleteBatch(storage: Storage, batch: [Oid, Tid][]): Promise<number> {
  const txn = storageTransaction({ user: 'handlerton-gc', description: 'external garbage collection' });
  await storage.tpcBegin(txn);
  let count = 0;
  try {
    for (const [oid, serial] of batch) {
      try {
        await storage.deleteObject(oid, serial, txn);
        count++;
      } catch (error) {
        if (!isHandlertonError(error, 'HANDLERTON_CONFLICT') && !isHandlertonError(error, 'HANDLERTON_POS_KEY')) throw error;
      }
    }
    await storage.tpcVote(txn);
  } catch (error) {
    await storage.tpcAbort(txn);
    throw error;
  }
  await storage.tpcFinish(txn);
  return count;
}
