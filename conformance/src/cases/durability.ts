/** Durability: everything committed survives close and reopen (engines that claim `durable`). */
import assert from 'node:assert/strict';
import { storageTransaction } from '@handlerton/framework';
import { rec } from '../util/records.js';
import { begin, collect, commit, createObject, revisions, text } from '../util/records.js';
import { rejectsWithCode } from '../util/assert-code.js';
import { committedBlobText, createBlobWith } from '../util/db-blobs.js';
import { assertValues, createObjects, disjointWrites, overlappingWrites } from '../util/db-commits.js';
import { defineArea } from './define.js';

export const durabilityCases = defineArea('durability', [
  {
    id: 'records-survive-reopen',
    title: 'committed records, their bytes, refs and serials survive close and reopen',
    source: 'T85',
    rule: ['capabilities.ts#StorageCapabilities.durable'],
    requires: ['durable'],
    run: async (ctx) => {
      const a = await createObject(ctx.storage, 'alpha');
      const bOid = await ctx.storage.newOid();
      const bTid = await commit(ctx.storage, [{ oid: bOid, serial: 0n, data: 'beta', refs: { oids: [a.oid] } }]);
      await ctx.reopen();
      assert.equal(text((await ctx.storage.load(a.oid)).data), 'alpha');
      assert.equal((await ctx.storage.load(a.oid)).tid, a.tid);
      const b = await ctx.storage.load(bOid);
      assert.equal(b.tid, bTid);
      assert.deepEqual([...b.refs.oids], [a.oid]);
    },
  },
  {
    id: 'last-transaction-survives',
    title: 'lastTransaction survives reopen and new tids are greater',
    source: 'API-2',
    rule: ['capabilities.ts#StorageCapabilities.durable', 'storage.ts#invariants'],
    requires: ['durable'],
    run: async (ctx) => {
      const { oid, tid } = await createObject(ctx.storage);
      await ctx.reopen();
      assert.equal(ctx.storage.lastTransaction(), tid);
      const t2 = await commit(ctx.storage, [{ oid, serial: tid, data: 'after reopen' }]);
      assert.ok(t2 > tid);
    },
  },
  {
    id: 'new-oid-after-reopen',
    title: 'after reopen, newOid never returns an oid already stored',
    source: 'API-1',
    rule: ['capabilities.ts#StorageCapabilities.durable', 'storage.ts#Storage.newOid'],
    requires: ['durable'],
    run: async (ctx) => {
      const oids = [];
      for (let i = 0; i < 5; i++) oids.push((await createObject(ctx.storage)).oid);
      const high = oids[4]! + 100n;
      await commit(ctx.storage, [{ oid: high, serial: 0n, data: 'high' }]);
      await ctx.reopen();
      assert.ok((await ctx.storage.newOid()) > high);
    },
  },
  {
    id: 'pending-not-visible-after-reopen',
    title: 'a transaction voted but not finished at close is not visible after reopen',
    source: 'API-8',
    rule: ['storage.ts#invariants', 'storage.ts#Storage.close'],
    requires: ['durable'],
    run: async (ctx) => {
      const { oid, tid } = await createObject(ctx.storage, 'committed');
      const fresh = await ctx.storage.newOid();
      const { txn } = await begin(ctx.storage);
      await ctx.storage.store(oid, tid, rec('pending'), txn);
      await ctx.storage.store(fresh, 0n, rec('pending new'), txn);
      await ctx.storage.tpcVote(txn);
      await ctx.reopen();
      assert.equal(text((await ctx.storage.load(oid)).data), 'committed');
      await rejectsWithCode(ctx.storage.load(fresh), 'HANDLERTON_POS_KEY');
      assert.equal(ctx.storage.lastTransaction(), tid);
    },
  },
  {
    id: 'history-survives-reopen',
    title: 'history (with metadata) survives reopen',
    source: 'T85',
    rule: ['capabilities.ts#StorageCapabilities.durable'],
    requires: ['durable', 'history'],
    run: async (ctx) => {
      const { oid } = await revisions(ctx.storage, 3);
      const before = await ctx.storage.history(oid, 10);
      await ctx.reopen();
      assert.deepEqual(await ctx.storage.history(oid, 10), before);
    },
  },
  {
    id: 'iterator-survives-reopen',
    title: 'the iterator yields the same transactions (tids, metadata, records) after reopen',
    source: 'T85',
    rule: ['capabilities.ts#StorageCapabilities.durable'],
    requires: ['durable', 'iterator'],
    run: async (ctx) => {
      await revisions(ctx.storage, 3);
      await commit(ctx.storage, [], { user: 'u', description: 'empty', extension: { x: [1, 2] } });
      const shape = async (): Promise<unknown> =>
        (await collect(ctx.storage.iterator())).map((t) => ({ tid: t.tid, meta: t.meta, records: t.records.map((r) => [r.oid, r.tid, r.record && text(r.record.data)]) }));
      const before = await shape();
      await ctx.reopen();
      assert.deepEqual(await shape(), before);
    },
  },
  {
    id: 'deletes-survive-reopen',
    title: 'a committed delete survives reopen',
    source: 'API-23',
    rule: ['capabilities.ts#StorageCapabilities.durable'],
    requires: ['durable', 'externalGC'],
    run: async (ctx) => {
      const { oid, tid } = await createObject(ctx.storage);
      await commit(ctx.storage, [{ oid, serial: tid, delete: true }]);
      await ctx.reopen();
      await rejectsWithCode(ctx.storage.load(oid), 'HANDLERTON_POS_KEY');
    },
  },
  {
    id: 'pack-survives-reopen',
    title: 'what a pack removed stays removed after reopen; what it kept stays',
    source: 'T85',
    rule: ['capabilities.ts#StorageCapabilities.durable'],
    requires: ['durable', 'pack'],
    run: async (ctx) => {
      const { oid, tids } = await revisions(ctx.storage, 3);
      await ctx.storage.pack(ctx.storage.lastTransaction() + 1n);
      await ctx.reopen();
      await rejectsWithCode(ctx.storage.loadSerial(oid, tids[0]!), 'HANDLERTON_POS_KEY');
      assert.equal(text((await ctx.storage.load(oid)).data), 'rev2');
    },
  },
  {
    id: 'database-id-stable',
    title: 'the database id is stable across reopen (locators stay valid)',
    source: 'DESIGN Locator',
    rule: ['storage.ts#Storage.databaseId'],
    requires: ['durable'],
    run: async (ctx) => {
      const id = ctx.storage.databaseId;
      await createObject(ctx.storage);
      await ctx.reopen();
      assert.equal(ctx.storage.databaseId, id);
    },
  },
  {
    id: 'blobs-survive-reopen',
    title: 'committed blob data survives reopen and reads back through a new Database',
    source: 'T85',
    rule: ['capabilities.ts#BlobCapabilities.durable'],
    requires: ['durable', 'blob.durable'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'durable blob bytes');
      await ctx.reopen();
      assert.equal(await committedBlobText(await ctx.database(), oid), 'durable blob bytes');
    },
  },
  {
    id: 'blob-locator-survives-reopen',
    title: 'a locator minted before reopen still opens its revision after reopen (same key)',
    source: 'DESIGN Locator',
    rule: ['storage.ts#Storage.locatorSecret', 'capabilities.ts#BlobCapabilities.durable'],
    requires: ['durable', 'blob.durable'],
    run: async (ctx) => {
      let db = await ctx.database();
      const oid = await createBlobWith(db, 'locator target');
      const snap = await db.snapshot();
      const loc = (await snap.blob(oid)).locator().toString();
      await snap.close();
      await ctx.reopen();
      db = await ctx.database();
      const h = await db.openLocator(loc);
      assert.equal(new TextDecoder().decode(await h.read(100)), 'locator target');
      await h.close();
    },
  },
  {
    id: 'crash-keeps-acknowledged-commits',
    title: 'after a simulated crash, every acknowledged commit is there and nothing of an unfinished one',
    source: 'FS-4',
    rule: ['capabilities.ts#StorageCapabilities.crashSafe', 'storage.ts#invariants'],
    requires: ['crashSafe', 'harness.crash'],
    run: async (ctx) => {
      const { oid, tid } = await createObject(ctx.storage, 'acknowledged');
      const fresh = await ctx.storage.newOid();
      const { txn } = await begin(ctx.storage);
      await ctx.storage.store(fresh, 0n, rec('unfinished'), txn);
      await ctx.storage.tpcVote(txn);
      await ctx.crash();
      assert.equal(text((await ctx.storage.load(oid)).data), 'acknowledged');
      assert.equal(ctx.storage.lastTransaction(), tid);
      await rejectsWithCode(ctx.storage.load(fresh), 'HANDLERTON_POS_KEY');
    },
  },
  {
    id: 'empty-transaction-survives-reopen',
    title: 'an empty transaction stays lastTransaction after reopen',
    source: 'API-9',
    rule: ['capabilities.ts#StorageCapabilities.durable', 'storage.ts#Storage.tpcFinish'],
    requires: ['durable'],
    run: async (ctx) => {
      await createObject(ctx.storage);
      const empty = await commit(ctx.storage, []);
      await ctx.reopen();
      assert.equal(ctx.storage.lastTransaction(), empty);
    },
  },
  {
    id: 'restore-survives-reopen',
    title: 'revisions written by restore under an explicit tid survive reopen with that tid',
    source: 'API-21',
    rule: ['capabilities.ts#StorageCapabilities.durable', 'storage.ts#Storage.restore'],
    requires: ['durable', 'restore'],
    run: async (ctx) => {
      const { tid } = await createObject(ctx.storage);
      const chosen = tid + 5000n;
      const txn = storageTransaction();
      await ctx.storage.tpcBegin(txn, chosen);
      await ctx.storage.restore(777n, rec('restored'), txn);
      await ctx.storage.tpcVote(txn);
      await ctx.storage.tpcFinish(txn);
      await ctx.reopen();
      const loaded = await ctx.storage.load(777n);
      assert.deepEqual([loaded.tid, text(loaded.data)], [chosen, 'restored']);
      assert.ok((await ctx.storage.newOid()) > 777n);
    },
  },
  {
    id: 'repeated-reopens',
    title: 'three commit/reopen cycles neither lose nor duplicate anything',
    source: 'T85',
    rule: ['capabilities.ts#StorageCapabilities.durable'],
    requires: ['durable'],
    run: async (ctx) => {
      const written: { oid: bigint; value: string }[] = [];
      for (let cycle = 0; cycle < 3; cycle++) {
        for (let i = 0; i < 3; i++) {
          const value = `c${cycle}i${i}`;
          written.push({ oid: (await createObject(ctx.storage, value)).oid, value });
        }
        await ctx.reopen();
        for (const w of written) assert.equal(text((await ctx.storage.load(w.oid)).data), w.value);
      }
      assert.equal(new Set(written.map((w) => w.oid)).size, written.length);
      if (ctx.storage.capabilities.iterator) {
        const records = (await collect(ctx.storage.iterator())).flatMap((t) => t.records);
        assert.equal(records.length, written.length, 'each committed record appears once');
      }
    },
  },
  {
    id: 'old-blob-revision-survives-reopen',
    title: 'an older blob revision still referenced by history reads back through its locator after reopen',
    source: 'T85',
    rule: ['capabilities.ts#BlobCapabilities.durable', 'blob-handlerton.ts#invariants'],
    requires: ['durable', 'blob.durable', 'mode.dataTransactional'],
    run: async (ctx) => {
      let db = await ctx.database();
      const oid = await createBlobWith(db, 'first revision');
      const snap = await db.snapshot();
      const old = (await snap.blob(oid)).locator().toString();
      await snap.close();
      await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('w');
        await h.write('second revision');
        await h.close();
      });
      await ctx.reopen();
      db = await ctx.database();
      const h = await db.openLocator(old);
      assert.equal(new TextDecoder().decode(await h.read(100)), 'first revision');
      await h.close();
      assert.equal(await committedBlobText(db, oid), 'second revision');
    },
  },
  {
    id: 'concurrent-db-transactions-survive-reopen',
    title: 'every db.transaction acknowledged while 32 ran at once (disjoint and overlapping objects) survives close and reopen',
    source: 'issue 13',
    rule: ['capabilities.ts#StorageCapabilities.durable', 'database.ts#Database.transaction'],
    requires: ['durable'],
    run: async (ctx) => {
      const db = await ctx.database();
      const all = await createObjects(db, 32 * 10, 'init');
      const sets = Array.from({ length: 32 }, (_, w) => all.slice(w * 10, (w + 1) * 10));
      const expected = await disjointWrites(db, sets, 3, 'disjoint');
      const overlap = await overlappingWrites(db, all.slice(0, 8), 32, 'overlap');
      for (const [oid, value] of overlap.expected) expected.set(oid, value);
      const last = db.lastTransaction();
      await ctx.reopen();
      const reopened = await ctx.database();
      assert.equal(reopened.lastTransaction(), last, 'the last acknowledged commit is the last transaction after reopen');
      await assertValues(reopened, expected, 'after reopen');
    },
  },
]);
