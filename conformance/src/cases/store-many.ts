/**
 * Batched stores (`Storage.storeMany`): each case runs its scenario twice, once through the engine's
 * native batch (when it has one) and once through the framework's loop over `store`/`deleteObject`,
 * and checks that both give the same, correct outcome.
 */
import assert from 'node:assert/strict';
import {
  isHandlertonError,
  storeEach,
  storeMany,
  type Oid,
  type Storage,
  type StoreWrite,
  type Tid,
} from '@handlerton/framework';
import { assertLoads, begin, commit, createObject, rec } from '../util/records.js';
import { defineArea } from './define.js';

type Batch = (storage: Storage, writes: readonly StoreWrite[], txn: Parameters<typeof storeMany>[2]) => Promise<void>;

/** The two ways of handing a batch to the engine. */
const PATHS: readonly (readonly [string, Batch])[] = [
  ['storeMany (native when the engine has it)', storeMany],
  ['store/deleteObject loop', storeEach],
];

/** A store write of text `data`. */
function put(oid: Oid, serial: Tid, data: string): StoreWrite {
  return { oid, serial, record: rec(data) };
}

/** Begins, hands `writes` over in one batch, votes and finishes; aborts on failure and returns the error code. */
async function commitBatch(storage: Storage, batch: Batch, writes: readonly StoreWrite[]): Promise<{ tid?: Tid; code?: string }> {
  const { txn } = await begin(storage);
  try {
    await batch(storage, writes, txn);
    await storage.tpcVote(txn);
    return { tid: await storage.tpcFinish(txn) };
  } catch (error) {
    await storage.tpcAbort(txn);
    if (!isHandlertonError(error)) throw error;
    return { code: error.code };
  }
}

export const storeManyTransactionCases = defineArea('transactions', [
  {
    id: 'store-many-roundtrip',
    title: 'storeMany creates and updates several objects in one transaction, the same as a loop of store',
    source: 'API-1',
    rule: ['storage.ts#Storage.storeMany', 'storage.ts#storeMany'],
    run: async ({ storage }) => {
      for (const [label, batch] of PATHS) {
        const [a, b, c] = [await storage.newOid(), await storage.newOid(), await storage.newOid()];
        const created = await commitBatch(storage, batch, [put(a, 0n, 'a0'), put(b, 0n, 'b0'), put(c, 0n, 'c0')]);
        assert.ok(created.tid !== undefined, `${label}: the creating batch commits (got ${created.code})`);
        for (const [oid, data] of [[a, 'a0'], [b, 'b0'], [c, 'c0']] as const) await assertLoads(storage, oid, data, created.tid);
        // The same oid twice in a batch keeps the last write, as two store calls do.
        const updated = await commitBatch(storage, batch, [put(a, created.tid, 'a1'), put(b, created.tid, 'b1'), put(a, created.tid, 'a2')]);
        assert.ok(updated.tid !== undefined && updated.tid > created.tid, `${label}: the updating batch commits after the first`);
        await assertLoads(storage, a, 'a2', updated.tid);
        await assertLoads(storage, b, 'b1', updated.tid);
        await assertLoads(storage, c, 'c0', created.tid);
      }
    },
  },
  {
    id: 'store-many-empty',
    title: 'an empty storeMany batch stores nothing and the transaction still commits',
    source: 'API-1',
    rule: ['storage.ts#Storage.storeMany'],
    run: async ({ storage }) => {
      for (const [label, batch] of PATHS) {
        const { oid, tid } = await createObject(storage, 'kept');
        const empty = await commitBatch(storage, batch, []);
        assert.equal(empty.code, undefined, `${label}: an empty batch commits`);
        await assertLoads(storage, oid, 'kept', tid);
      }
    },
  },
  {
    id: 'store-many-delete',
    title: 'a storeMany write with record null writes a delete marker (as deleteObject), and fails like it on an unknown oid',
    source: 'GC-1',
    rule: ['storage.ts#Storage.storeMany', 'storage.ts#Storage.deleteObject'],
    requires: ['externalGC'],
    run: async ({ storage }) => {
      for (const [label, batch] of PATHS) {
        const { oid: gone, tid: goneTid } = await createObject(storage, 'gone');
        const { oid: kept, tid: keptTid } = await createObject(storage, 'kept');
        const done = await commitBatch(storage, batch, [{ oid: gone, serial: goneTid, record: null }, put(kept, keptTid, 'kept2')]);
        assert.ok(done.tid !== undefined, `${label}: the batch with a delete commits (got ${done.code})`);
        await assert.rejects(storage.load(gone), (e: unknown) => isHandlertonError(e, 'HANDLERTON_POS_KEY'), `${label}: the deleted object no longer loads`);
        await assertLoads(storage, kept, 'kept2', done.tid);
        const unknown = (await storage.newOid()) + 100n;
        const failed = await commitBatch(storage, batch, [{ oid: unknown, serial: 0n, record: null }]);
        assert.equal(failed.code, 'HANDLERTON_POS_KEY', `${label}: deleting an unknown oid in a batch`);
      }
    },
  },
]);

export const storeManyConflictCases = defineArea('conflicts', [
  {
    id: 'store-many-stale-serial',
    title: 'a stale serial anywhere in a storeMany batch raises ConflictError and nothing of the batch commits',
    source: 'T5',
    rule: ['storage.ts#Storage.storeMany', 'storage.ts#Storage.store'],
    run: async ({ storage }) => {
      for (const [label, batch] of PATHS) {
        const { oid: fresh, tid: freshTid } = await createObject(storage, 'f0');
        const { oid: stale, tid: t1 } = await createObject(storage, 's0');
        const t2 = await commit(storage, [{ oid: stale, serial: t1, data: 's1' }]);
        const newOid = await storage.newOid();
        const failed = await commitBatch(storage, batch, [put(fresh, freshTid, 'f1'), put(newOid, 0n, 'n0'), put(stale, t1, 's2')]);
        assert.equal(failed.code, 'HANDLERTON_CONFLICT', `${label}: the batch conflicts`);
        await assertLoads(storage, fresh, 'f0', freshTid);
        await assertLoads(storage, stale, 's1', t2);
        await assert.rejects(storage.load(newOid), (e: unknown) => isHandlertonError(e, 'HANDLERTON_POS_KEY'), `${label}: the new object of the failed batch does not exist`);
        // The storage goes on: the same writes with current serials commit.
        const retried = await commitBatch(storage, batch, [put(fresh, freshTid, 'f1'), put(stale, t2, 's2')]);
        assert.ok(retried.tid !== undefined, `${label}: the corrected batch commits (got ${retried.code})`);
      }
    },
  },
]);
