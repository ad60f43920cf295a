/** MVCC: loadSerial, loadBefore and snapshots see exactly the state at their tid. */
import assert from 'node:assert/strict';
import type { Storage, Oid, Tid } from '@handlerton/framework';
import { rejectsNotSupported, rejectsWithCode } from '../util/assert-code.js';
import { begin, commit, createObject, rec, revisions, text } from '../util/records.js';
import { defineArea } from './define.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

async function loadBeforeText(storage: Storage, oid: Oid, tid: Tid): Promise<string | null> {
  const r = await storage.loadBefore(oid, tid);
  return r === null ? null : text(r.data);
}

export const mvccCases = defineArea('mvcc', [
  {
    id: 'load-serial-every-revision',
    title: 'loadSerial returns every revision by its tid',
    source: 'T27',
    rule: ['storage.ts#Storage.loadSerial'],
    run: async ({ storage }) => {
      const { oid, tids } = await revisions(storage, 7);
      for (let i = 0; i < tids.length; i++) {
        const r = await storage.loadSerial(oid, tids[i]!);
        assert.equal(text(r.data), `rev${i}`);
        assert.equal(r.tid, tids[i]);
      }
    },
  },
  {
    id: 'load-serial-unknown',
    title: 'loadSerial of a tid that wrote no revision of the object raises POSKeyError',
    source: 'API-13',
    rule: ['storage.ts#Storage.loadSerial'],
    run: async ({ storage }) => {
      const { oid, tids } = await revisions(storage, 2);
      const { tid: other } = await createObject(storage, 'x');
      await rejectsWithCode(storage.loadSerial(oid, other), 'HANDLERTON_POS_KEY', 'foreign tid');
      await rejectsWithCode(storage.loadSerial(oid, tids[0]! - 1n), 'HANDLERTON_POS_KEY', 'tid before creation');
      await rejectsWithCode(storage.loadSerial(999_999n, tids[0]!), 'HANDLERTON_POS_KEY', 'unknown oid');
    },
  },
  {
    id: 'load-before-each-revision',
    title: 'loadBefore(oid, tid of revision k+1) returns revision k with nextTid = that tid',
    source: 'T28',
    rule: ['storage.ts#Storage.loadBefore', 'records.ts#LoadedRevision.nextTid'],
    requires: ['mvcc'],
    run: async ({ storage }) => {
      const { oid, tids } = await revisions(storage, 7);
      for (let k = 0; k + 1 < tids.length; k++) {
        const r = await storage.loadBefore(oid, tids[k + 1]!);
        assert.ok(r !== null);
        assert.equal(text(r.data), `rev${k}`);
        assert.equal(r.tid, tids[k]);
        assert.equal(r.nextTid, tids[k + 1]);
      }
    },
  },
  {
    id: 'load-before-unknown-oid',
    title: 'loadBefore of an unknown oid raises POSKeyError',
    source: 'T29',
    rule: ['storage.ts#Storage.loadBefore'],
    requires: ['mvcc'],
    run: async ({ storage }) => {
      await createObject(storage);
      await rejectsWithCode(storage.loadBefore(424242n, storage.lastTransaction() + 1n), 'HANDLERTON_POS_KEY');
    },
  },
  {
    id: 'load-before-creation',
    title: 'loadBefore(oid, its creation tid) and earlier tids return null',
    source: 'T33',
    rule: ['storage.ts#Storage.loadBefore'],
    requires: ['mvcc'],
    run: async ({ storage }) => {
      const { tid: t0 } = await createObject(storage, 'other');
      const { oid, tid } = await createObject(storage, 'x');
      assert.equal(await storage.loadBefore(oid, tid), null);
      assert.equal(await storage.loadBefore(oid, t0), null);
    },
  },
  {
    id: 'load-before-current',
    title: 'loadBefore after the current revision returns it with nextTid null, filled in once a newer one commits',
    source: 'T29',
    rule: ['storage.ts#Storage.loadBefore', 'records.ts#LoadedRevision.nextTid'],
    requires: ['mvcc'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'x');
      const now = await storage.loadBefore(oid, tid + 1000n);
      assert.ok(now !== null);
      assert.equal(now.tid, tid);
      assert.equal(now.nextTid, null);
      const t2 = await commit(storage, [{ oid, serial: tid, data: 'y' }]);
      const later = await storage.loadBefore(oid, t2);
      assert.ok(later !== null);
      assert.equal(later.nextTid, t2);
    },
  },
  {
    id: 'load-before-consecutive-tids',
    title: 'loadBefore is exact at consecutive tids (tid + 1 finds revision tid)',
    source: 'T32',
    rule: ['storage.ts#Storage.loadBefore'],
    requires: ['mvcc'],
    run: async ({ storage }) => {
      const { oid, tids } = await revisions(storage, 4);
      for (let i = 0; i < tids.length; i++) {
        assert.equal(await loadBeforeText(storage, oid, tids[i]! + 1n), `rev${i}`);
        assert.equal(await loadBeforeText(storage, oid, tids[i]!), i === 0 ? null : `rev${i - 1}`);
      }
    },
  },
  {
    id: 'load-before-old',
    title: 'loadBefore finds an old revision among many by the tid of its successor',
    source: 'T30',
    rule: ['storage.ts#Storage.loadBefore', 'capabilities.ts#StorageCapabilities.mvcc'],
    requires: ['mvcc'],
    run: async ({ storage }) => {
      const { oid, tids } = await revisions(storage, 30);
      const r = await storage.loadBefore(oid, tids[12]!);
      assert.ok(r !== null);
      assert.equal(text(r.data), 'rev11');
      assert.equal(r.tid, tids[11]);
      assert.equal(r.nextTid, tids[12]);
    },
  },
  {
    id: 'load-before-stable',
    title: 'what loadBefore(T) returns does not change when later transactions commit',
    source: 'API-15',
    rule: ['storage.ts#Storage.loadBefore'],
    requires: ['mvcc'],
    run: async ({ storage }) => {
      const a = await createObject(storage, 'a0');
      const b = await createObject(storage, 'b0');
      const at = storage.lastTransaction() + 1n;
      const before = [await loadBeforeText(storage, a.oid, at), await loadBeforeText(storage, b.oid, at)];
      await commit(storage, [
        { oid: a.oid, serial: a.tid, data: 'a1' },
        { oid: b.oid, serial: b.tid, data: 'b1' },
      ]);
      const c = await createObject(storage, 'c0');
      const after = [await loadBeforeText(storage, a.oid, at), await loadBeforeText(storage, b.oid, at)];
      assert.deepEqual(after, before);
      assert.equal(await storage.loadBefore(c.oid, at), null, 'an object created later is absent at T');
    },
  },
  {
    id: 'load-before-uncommitted-invisible',
    title: 'a voted but unfinished transaction is invisible to load and loadBefore',
    source: 'T101',
    rule: ['storage.ts#invariants'],
    requires: ['mvcc'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'committed');
      const { txn, tid: pending } = await begin(storage);
      await storage.store(oid, tid, rec('pending'), txn);
      await storage.tpcVote(txn);
      assert.equal(text((await storage.load(oid)).data), 'committed');
      assert.equal(await loadBeforeText(storage, oid, pending + 1n), 'committed');
      await storage.tpcAbort(txn);
      assert.equal(await loadBeforeText(storage, oid, pending + 1n), 'committed');
    },
  },
  {
    id: 'load-before-not-supported',
    title: 'without mvcc, loadBefore raises NotSupportedError',
    source: 'API-14',
    rule: ['capabilities.ts#StorageCapabilities.mvcc', 'storage.ts#invariants'],
    unless: ['mvcc'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage);
      await rejectsNotSupported(() => storage.loadBefore(oid, tid + 1n), 'loadBefore');
    },
  },
  {
    id: 'snapshot-fixed-state',
    title: 'a Database snapshot reads the state at its tid, unaffected by later commits',
    source: 'API-15',
    rule: ['database.ts#Database.snapshot', 'database.ts#ReadView.read', 'database.ts#ReadView.tryRead'],
    requires: ['mvcc'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(enc.encode('v1')));
      const snap = await db.snapshot();
      assert.equal(snap.tid, db.lastTransaction());
      await db.transaction((tx) => tx.write(oid, enc.encode('v2')));
      const created = await db.transaction((tx) => tx.create(enc.encode('new')));
      assert.equal(dec.decode((await snap.read(oid)).data), 'v1');
      assert.equal(await snap.tryRead(created), undefined, 'an object created later is absent');
      await rejectsWithCode(snap.read(created), 'HANDLERTON_POS_KEY');
      await snap.close();
    },
  },
  {
    id: 'snapshot-at-tid',
    title: 'db.snapshot(at) reads the historical state as of `at`',
    source: 'API-15',
    rule: ['database.ts#Database.snapshot'],
    requires: ['mvcc'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(enc.encode('v1')));
      const t1 = db.lastTransaction();
      await db.transaction((tx) => tx.write(oid, enc.encode('v2')));
      const snap = await db.snapshot(t1);
      assert.equal(dec.decode((await snap.read(oid)).data), 'v1');
      assert.equal((await snap.read(oid)).tid, t1);
      await snap.close();
    },
  },
  {
    id: 'transaction-snapshot-isolation',
    title: 'a transaction keeps reading the state it started from while others commit',
    source: 'API-15',
    rule: ['database.ts#Transaction'],
    requires: ['mvcc'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(enc.encode('v1')));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const reader = db.transaction(async (tx) => {
        const first = dec.decode((await tx.read(oid)).data);
        await gate;
        const second = dec.decode((await tx.read(oid)).data);
        return [first, second];
      });
      reader.catch(() => undefined); // awaited below
      await db.transaction((tx) => tx.write(oid, enc.encode('v2')));
      release();
      assert.deepEqual(await reader, ['v1', 'v1']);
    },
  },
  {
    id: 'transaction-sees-own-writes',
    title: 'a transaction reads its own uncommitted writes; others do not see them',
    source: 'API-15',
    rule: ['database.ts#Transaction'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(enc.encode('v1')));
      await db.transaction(async (tx) => {
        await tx.write(oid, enc.encode('mine'));
        assert.equal(dec.decode((await tx.read(oid)).data), 'mine');
        const snap = await db.snapshot();
        assert.equal(dec.decode((await snap.read(oid)).data), 'v1');
        await snap.close();
      });
    },
  },
  {
    id: 'aborted-database-transaction',
    title: 'a Database transaction whose body throws commits nothing',
    source: 'API-8',
    rule: ['database.ts#Database.transaction'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(enc.encode('v1')));
      const last = db.lastTransaction();
      let created: Oid | undefined;
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.write(oid, enc.encode('v2'));
          created = await tx.create(enc.encode('ghost'));
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(db.lastTransaction(), last);
      const snap = await db.snapshot();
      assert.equal(dec.decode((await snap.read(oid)).data), 'v1');
      assert.equal(await snap.tryRead(created!), undefined);
      await snap.close();
    },
  },
  {
    id: 'snapshot-after-delete',
    title: 'a snapshot taken before a delete keeps reading the object; a newer snapshot does not see it',
    source: 'API-23',
    rule: ['database.ts#Transaction.delete', 'storage.ts#Storage.deleteObject'],
    requires: ['mvcc', 'externalGC'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(enc.encode('alive')));
      const before = await db.snapshot();
      await db.transaction((tx) => tx.delete(oid));
      assert.equal(dec.decode((await before.read(oid)).data), 'alive');
      const after = await db.snapshot();
      assert.equal(await after.tryRead(oid), undefined);
      await before.close();
      await after.close();
    },
  },
  {
    id: 'snapshot-across-pack',
    title: 'a snapshot of the current state keeps reading it after a pack',
    source: 'BL-14',
    rule: ['storage.ts#Storage.pack', 'storage.ts#Storage.packHorizon'],
    requires: ['mvcc', 'pack'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(enc.encode('v1')));
      await db.transaction((tx) => tx.write(oid, enc.encode('v2')));
      const snap = await db.snapshot();
      await db.pack(db.lastTransaction() + 1n);
      assert.equal(dec.decode((await snap.read(oid)).data), 'v2');
      await snap.close();
    },
  },
]);
