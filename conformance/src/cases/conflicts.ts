/** Conflicts: stale serials raise ConflictError (at store or vote), first committer wins. */
import assert from 'node:assert/strict';
import { isHandlertonError, type ConflictError, type Oid, type Storage, type Tid } from '@handlerton/framework';
import { rejectsWithCode } from '../util/assert-code.js';
import { assertLoads, begin, commit, createObject, rec } from '../util/records.js';
import { defineArea } from './define.js';

/** Stores then votes; resolves to the error raised by either (conflicts may surface at store or vote). */
async function storeAndVote(storage: Storage, writes: { oid: Oid; serial: Tid; data: string }[]): Promise<unknown> {
  const { txn } = await begin(storage);
  try {
    for (const w of writes) await storage.store(w.oid, w.serial, rec(w.data), txn);
    await storage.tpcVote(txn);
  } catch (e) {
    await storage.tpcAbort(txn);
    return e;
  }
  await storage.tpcAbort(txn);
  return undefined;
}

export const conflictCases = defineArea('conflicts', [
  {
    id: 'stale-serial',
    title: 'storing with a superseded serial raises ConflictError at store or vote',
    source: 'T5',
    rule: ['storage.ts#Storage.store'],
    run: async ({ storage }) => {
      const { oid, tid: t1 } = await createObject(storage, 'a');
      await commit(storage, [{ oid, serial: t1, data: 'b' }]);
      const error = await storeAndVote(storage, [{ oid, serial: t1, data: 'c' }]);
      assert.ok(isHandlertonError(error, 'HANDLERTON_CONFLICT'), `expected ConflictError, got ${String(error)}`);
    },
  },
  {
    id: 'conflict-error-fields',
    title: 'ConflictError names the oid, the committed serial and the expected serial',
    source: 'API-12',
    rule: ['errors.ts#ConflictError.oid', 'errors.ts#ConflictError.committedSerial', 'errors.ts#ConflictError.expectedSerial'],
    run: async ({ storage }) => {
      const { oid, tid: t1 } = await createObject(storage, 'a');
      const t2 = await commit(storage, [{ oid, serial: t1, data: 'b' }]);
      const error = await storeAndVote(storage, [{ oid, serial: t1, data: 'c' }]);
      assert.ok(isHandlertonError(error, 'HANDLERTON_CONFLICT'));
      const conflict = error as ConflictError;
      assert.equal(conflict.oid, oid);
      assert.equal(conflict.committedSerial, t2);
      assert.equal(conflict.expectedSerial, t1);
    },
  },
  {
    id: 'conflict-leaves-state-intact',
    title: 'a conflicting transaction commits nothing, not even its non-conflicting stores',
    source: 'API-10',
    rule: ['storage.ts#Storage.tpcVote', 'storage.ts#invariants'],
    run: async ({ storage }) => {
      const { oid, tid: t1 } = await createObject(storage, 'a');
      const t2 = await commit(storage, [{ oid, serial: t1, data: 'b' }]);
      const other = await storage.newOid();
      const error = await storeAndVote(storage, [
        { oid: other, serial: 0n, data: 'innocent' },
        { oid, serial: t1, data: 'c' },
      ]);
      assert.ok(isHandlertonError(error, 'HANDLERTON_CONFLICT'));
      await assertLoads(storage, oid, 'b', t2);
      await rejectsWithCode(storage.load(other), 'HANDLERTON_POS_KEY', 'the innocent store was discarded');
      assert.equal(storage.lastTransaction(), t2);
    },
  },
  {
    id: 'zero-serial-on-existing',
    title: 'storing serial 0 ("new object") for an existing object raises ConflictError',
    source: 'API-3',
    rule: ['storage.ts#Storage.store'],
    run: async ({ storage }) => {
      const { oid } = await createObject(storage, 'a');
      const error = await storeAndVote(storage, [{ oid, serial: 0n, data: 'b' }]);
      assert.ok(isHandlertonError(error, 'HANDLERTON_CONFLICT'), `got ${String(error)}`);
    },
  },
  {
    id: 'nonzero-serial-on-new',
    title: 'storing a non-zero serial for an object that does not exist raises ConflictError',
    source: 'API-10',
    rule: ['storage.ts#Storage.store', 'errors.ts#ConflictError.committedSerial'],
    run: async ({ storage }) => {
      const { tid } = await createObject(storage, 'a');
      const oid = await storage.newOid();
      const error = await storeAndVote(storage, [{ oid, serial: tid, data: 'b' }]);
      assert.ok(isHandlertonError(error, 'HANDLERTON_CONFLICT'), `got ${String(error)}`);
      if (isHandlertonError(error, 'HANDLERTON_CONFLICT')) assert.equal((error as ConflictError).committedSerial, undefined);
    },
  },
  {
    id: 'first-committer-wins',
    title: 'two writers based on the same serial: the first commits, the second conflicts',
    source: 'BL-9',
    rule: ['storage.ts#Storage.store'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'base');
      const t2 = await commit(storage, [{ oid, serial: tid, data: 'writer-1' }]);
      await rejectsWithCode(commit(storage, [{ oid, serial: tid, data: 'writer-2' }]), 'HANDLERTON_CONFLICT');
      await assertLoads(storage, oid, 'writer-1', t2);
    },
  },
  {
    id: 'parallel-writers-one-wins',
    title: 'eight writers of one object started at once: exactly one commits, the rest conflict',
    source: 'API-10',
    rule: ['storage.ts#Storage.store', 'storage.ts#invariants'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'base');
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => commit(storage, [{ oid, serial: tid, data: `w${i}` }])),
      );
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      assert.equal(won.length, 1, 'exactly one writer commits');
      for (const o of outcomes) {
        if (o.status === 'rejected') assert.ok(isHandlertonError(o.reason, 'HANDLERTON_CONFLICT'), String(o.reason));
      }
      assert.equal((await storage.load(oid)).tid, (won[0] as PromiseFulfilledResult<bigint>).value);
    },
  },
  {
    id: 'non-overlapping-writers',
    title: 'writers of different objects based on the same state both commit',
    source: 'API-10',
    rule: ['storage.ts#Storage.store'],
    run: async ({ storage }) => {
      const a = await createObject(storage, 'a0');
      const b = await createObject(storage, 'b0');
      const [ta, tb] = await Promise.all([
        commit(storage, [{ oid: a.oid, serial: a.tid, data: 'a1' }]),
        commit(storage, [{ oid: b.oid, serial: b.tid, data: 'b1' }]),
      ]);
      assert.notEqual(ta, tb);
      await assertLoads(storage, a.oid, 'a1', ta);
      await assertLoads(storage, b.oid, 'b1', tb);
    },
  },
  {
    id: 'retry-with-fresh-serial',
    title: 'after a conflict, retrying with the serial just loaded commits',
    source: 'API-12',
    rule: ['storage.ts#Storage.store', 'errors.ts#ConflictError'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'a');
      await commit(storage, [{ oid, serial: tid, data: 'b' }]);
      await rejectsWithCode(commit(storage, [{ oid, serial: tid, data: 'c' }]), 'HANDLERTON_CONFLICT');
      const current = await storage.load(oid);
      const t3 = await commit(storage, [{ oid, serial: current.tid, data: 'c' }]);
      await assertLoads(storage, oid, 'c', t3);
    },
  },
  {
    id: 'conflict-on-second-object',
    title: 'a stale serial on any object of a multi-object transaction fails the whole transaction',
    source: 'API-6',
    rule: ['storage.ts#Storage.store', 'storage.ts#Storage.tpcVote'],
    run: async ({ storage }) => {
      const a = await createObject(storage, 'a');
      const b = await createObject(storage, 'b');
      await commit(storage, [{ oid: b.oid, serial: b.tid, data: 'b2' }]);
      await rejectsWithCode(
        commit(storage, [
          { oid: a.oid, serial: a.tid, data: 'a2' },
          { oid: b.oid, serial: b.tid, data: 'b3' },
        ]),
        'HANDLERTON_CONFLICT',
      );
      await assertLoads(storage, a.oid, 'a', a.tid);
    },
  },
  {
    id: 'conflict-with-aborted-write',
    title: 'an aborted write does not move the serial: a writer based on the old serial commits',
    source: 'API-8',
    rule: ['storage.ts#invariants', 'storage.ts#Storage.tpcAbort'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'a');
      const { txn } = await begin(storage);
      await storage.store(oid, tid, rec('aborted'), txn);
      await storage.tpcVote(txn);
      await storage.tpcAbort(txn);
      const t2 = await commit(storage, [{ oid, serial: tid, data: 'b' }]);
      await assertLoads(storage, oid, 'b', t2);
    },
  },
  {
    id: 'conflict-after-delete',
    title: 'storing with the serial from before a delete raises ConflictError',
    source: 'API-23',
    rule: ['storage.ts#Storage.store', 'storage.ts#Storage.deleteObject'],
    requires: ['externalGC'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'a');
      await commit(storage, [{ oid, serial: tid, delete: true }]);
      await rejectsWithCode(commit(storage, [{ oid, serial: tid, data: 'b' }]), 'HANDLERTON_CONFLICT');
    },
  },
  {
    id: 'database-first-committer-wins',
    title: 'two Database transactions writing one record concurrently: one commits, the other gets ConflictError',
    source: 'BL-9',
    rule: ['database.ts#Transaction', 'database.ts#Transaction.commit'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(new TextEncoder().encode('base')));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const slow = db.transaction(async (tx) => {
        await tx.read(oid);
        await gate;
        await tx.write(oid, new TextEncoder().encode('slow'));
      });
      slow.catch(() => undefined); // awaited below
      await db.transaction(async (tx) => {
        await tx.read(oid);
        await tx.write(oid, new TextEncoder().encode('fast'));
      });
      release();
      await rejectsWithCode(slow, 'HANDLERTON_CONFLICT', 'the later committer');
      const snap = await db.snapshot();
      assert.equal(new TextDecoder().decode((await snap.read(oid)).data), 'fast');
      await snap.close();
    },
  },
  {
    id: 'database-retries',
    title: 'db.transaction with retries re-runs a conflicting body and commits',
    source: 'API-12',
    rule: ['database.ts#TransactionOptions.retries', 'database.ts#Database.transaction'],
    run: async (ctx) => {
      const db = await ctx.database();
      const enc = new TextEncoder();
      const oid = await db.transaction((tx) => tx.create(enc.encode('0')));
      let attempts = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const retried = db.transaction(
        async (tx) => {
          attempts += 1;
          const n = Number(new TextDecoder().decode((await tx.read(oid)).data));
          if (attempts === 1) await gate;
          await tx.write(oid, enc.encode(String(n + 1)));
        },
        { retries: 3 },
      );
      retried.catch(() => undefined); // awaited below
      await db.transaction(async (tx) => tx.write(oid, enc.encode('10')));
      release();
      await retried;
      assert.equal(attempts, 2, 'the body ran twice');
      const snap = await db.snapshot();
      assert.equal(new TextDecoder().decode((await snap.read(oid)).data), '11');
      await snap.close();
    },
  },
]);
