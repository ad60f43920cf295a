/** History and iteration: order, sizes, metadata, ranges, snapshots, copy between engines. */
import assert from 'node:assert/strict';
import { storageTransaction, tidToDate, type IteratedTransaction, type Storage } from '@handlerton/framework';
import { rejectsNotSupported, rejectsWithCode } from '../util/assert-code.js';
import { commitBlobRecords, digestRevision, patternChunk } from '../util/blob-io.js';
import { copyTransactions } from '../util/copy.js';
import { begin, collect, commit, createObject, rec, revisions, text } from '../util/records.js';
import { defineArea } from './define.js';

function summary(txns: readonly IteratedTransaction[]): unknown[] {
  return txns.map((t) => ({
    tid: t.tid,
    meta: { user: t.meta.user, description: t.meta.description, extension: t.meta.extension },
    records: t.records.map((r) => ({ oid: r.oid, tid: r.tid, data: r.record === null ? null : text(r.record.data), oids: r.record?.refs.oids.slice() ?? null })),
  }));
}

async function tidsOf(storage: Storage, start?: bigint, stop?: bigint): Promise<bigint[]> {
  return (await collect(storage.iterator(start, stop))).map((t) => t.tid);
}

export const historyCases = defineArea('history', [
  {
    id: 'history-unknown-oid',
    title: 'history of an unknown oid raises POSKeyError',
    source: 'T34',
    rule: ['storage.ts#Storage.history'],
    requires: ['history'],
    run: async ({ storage }) => {
      await rejectsWithCode(storage.history(777_777n, 10), 'HANDLERTON_POS_KEY');
    },
  },
  {
    id: 'history-newest-first-and-size',
    title: 'history(oid, size) returns the newest `size` revisions, newest first',
    source: 'T34',
    rule: ['storage.ts#Storage.history'],
    requires: ['history'],
    run: async ({ storage }) => {
      const { oid, tids } = await revisions(storage, 6);
      const newestFirst = [...tids].reverse();
      for (let size = 1; size <= 6; size++) {
        const h = await storage.history(oid, size);
        assert.deepEqual(h.map((e) => e.tid), newestFirst.slice(0, size), `history size ${size}`);
      }
      assert.equal((await storage.history(oid, 100)).length, 6, 'a size above the count returns all');
    },
  },
  {
    id: 'history-times',
    title: 'history times are the tids\' wall-clock times, decreasing, not before the case started',
    source: 'T34',
    rule: ['records.ts#HistoryEntry.time'],
    requires: ['history'],
    run: async ({ storage }) => {
      const started = Date.now() - 1000;
      const { oid } = await revisions(storage, 4);
      const h = await storage.history(oid, 10);
      for (let i = 0; i < h.length; i++) {
        const e = h[i]!;
        assert.equal(e.time.getTime(), tidToDate(e.tid).getTime());
        assert.ok(e.time.getTime() >= started);
        if (i > 0) assert.ok(e.tid < h[i - 1]!.tid && e.time.getTime() <= h[i - 1]!.time.getTime());
      }
    },
  },
  {
    id: 'history-metadata-and-size',
    title: 'history entries carry user, description, extension and the data size',
    source: 'T12',
    rule: ['records.ts#HistoryEntry', 'records.ts#HistoryEntry.size'],
    requires: ['history'],
    run: async ({ storage }) => {
      const oid = await storage.newOid();
      const t1 = await commit(storage, [{ oid, serial: 0n, data: 'abc' }], { user: 'alice', description: 'first', extension: { n: 1 } });
      await commit(storage, [{ oid, serial: t1, data: 'abcdefgh' }], { user: 'bob', description: 'second', extension: { tag: 'x' } });
      const [h2, h1] = await storage.history(oid, 2);
      assert.ok(h1 !== undefined && h2 !== undefined);
      assert.deepEqual([h2.user, h2.description, h2.extension, h2.size, h2.deleted], ['bob', 'second', { tag: 'x' }, 8, false]);
      assert.deepEqual([h1.user, h1.description, h1.extension, h1.size, h1.deleted], ['alice', 'first', { n: 1 }, 3, false]);
    },
  },
  {
    id: 'history-not-supported',
    title: 'without history, history() raises NotSupportedError',
    source: 'API-16',
    rule: ['capabilities.ts#StorageCapabilities.history', 'storage.ts#invariants'],
    unless: ['history'],
    run: async ({ storage }) => {
      const { oid } = await createObject(storage);
      await rejectsNotSupported(() => storage.history(oid, 1), 'history');
    },
  },
  {
    id: 'iterator-one-record-per-transaction',
    title: 'the iterator yields each transaction in tid order with its records (oid, tid, data)',
    source: 'T35',
    rule: ['storage.ts#Storage.iterator', 'records.ts#IteratedTransaction.status', 'records.ts#IteratedRecord'],
    requires: ['iterator'],
    run: async ({ storage }) => {
      const { oid, tids } = await revisions(storage, 5);
      const txns = await collect(storage.iterator());
      assert.deepEqual(txns.map((t) => t.tid), tids);
      txns.forEach((t, i) => {
        assert.equal(t.status, ' ');
        assert.equal(t.records.length, 1);
        assert.equal(t.records[0]!.oid, oid);
        assert.equal(t.records[0]!.tid, t.tid);
        assert.equal(text(t.records[0]!.record!.data), `rev${i}`);
      });
    },
  },
  {
    id: 'iterator-metadata',
    title: 'iterated transactions carry user, description and the extension dict unchanged',
    source: 'T37',
    rule: ['records.ts#IteratedTransaction.meta'],
    requires: ['iterator'],
    run: async ({ storage }) => {
      const ext = { a: 1, nested: { list: [1, 'two', null] }, s: 'ü' };
      const oid = await storage.newOid();
      await commit(storage, [{ oid, serial: 0n, data: 'x' }], { user: 'u', description: 'd', extension: ext });
      const [t] = await collect(storage.iterator());
      assert.ok(t !== undefined);
      assert.deepEqual(t.meta, { user: 'u', description: 'd', extension: ext });
    },
  },
  {
    id: 'iterator-ranges',
    title: 'iterator bounds are inclusive and may fall between tids; empty and single ranges work',
    source: 'T43',
    rule: ['storage.ts#Storage.iterator'],
    requires: ['iterator'],
    run: async ({ storage }) => {
      const { tids } = await revisions(storage, 5);
      const [t0, t1, t2, t3, t4] = tids as [bigint, bigint, bigint, bigint, bigint];
      assert.deepEqual(await tidsOf(storage, t1, t3), [t1, t2, t3]);
      assert.deepEqual(await tidsOf(storage, t1 + 1n, t3 - 1n), [t2], 'bounds between tids');
      assert.deepEqual(await tidsOf(storage, t2, t2), [t2], 'single');
      assert.deepEqual(await tidsOf(storage, t4 + 1n), [], 'after the end');
      assert.deepEqual(await tidsOf(storage, undefined, t0 - 1n), [], 'before the start');
      assert.deepEqual(await tidsOf(storage, t3, t1), [], 'start after stop');
      assert.deepEqual(await tidsOf(storage, undefined, t1), [t0, t1]);
      assert.deepEqual(await tidsOf(storage, t3), [t3, t4]);
    },
  },
  {
    id: 'iterator-snapshot',
    title: 'transactions committed while iterating are not included',
    source: 'T42',
    rule: ['storage.ts#Storage.iterator'],
    requires: ['iterator'],
    run: async ({ storage }) => {
      const { oid, tids } = await revisions(storage, 3);
      const seen: bigint[] = [];
      let serial = tids[2]!;
      for await (const t of storage.iterator()) {
        seen.push(t.tid);
        serial = await commit(storage, [{ oid, serial, data: `during-${seen.length}` }]);
      }
      assert.deepEqual(seen, tids);
    },
  },
  {
    id: 'iterator-during-pending-commit',
    title: 'iterating while a transaction is voted but not finished works and excludes it',
    source: 'T38',
    rule: ['storage.ts#Storage.iterator', 'storage.ts#invariants'],
    requires: ['iterator'],
    run: async ({ storage }) => {
      const { tids } = await revisions(storage, 2);
      const oid = await storage.newOid();
      const { txn } = await begin(storage);
      await storage.store(oid, 0n, rec('pending'), txn);
      await storage.tpcVote(txn);
      assert.deepEqual(await tidsOf(storage), tids);
      await storage.tpcAbort(txn);
    },
  },
  {
    id: 'iterator-load-consistency',
    title: "each object's current (oid, tid) from load appears in the iteration",
    source: 'T39',
    rule: ['storage.ts#Storage.iterator', 'records.ts#IteratedTransaction.records'],
    requires: ['iterator'],
    run: async ({ storage }) => {
      const a = await createObject(storage, 'a');
      const b = await createObject(storage, 'b');
      await commit(storage, [{ oid: a.oid, serial: a.tid, data: 'a2' }]);
      const txns = await collect(storage.iterator());
      for (const oid of [a.oid, b.oid]) {
        const loaded = await storage.load(oid);
        const found = txns.flatMap((t) => t.records).find((r) => r.oid === oid && r.tid === loaded.tid);
        assert.ok(found !== undefined, `load(${oid}) appears in iteration`);
        assert.deepEqual(Array.from(found.record?.data ?? []), Array.from(loaded.data));
      }
    },
  },
  {
    id: 'iterator-records-repeatable',
    title: "a transaction's records can be read repeatedly, and a new iterator starts over",
    source: 'T41',
    rule: ['storage.ts#Storage.iterator'],
    requires: ['iterator'],
    run: async ({ storage }) => {
      await revisions(storage, 3);
      const first = await collect(storage.iterator());
      for (const t of first) assert.deepEqual(summary([t]), summary([t]));
      assert.deepEqual(summary(await collect(storage.iterator())), summary(first));
    },
  },
  {
    id: 'iterator-empty-and-aborted',
    title: 'empty transactions appear with no records; aborted transactions never appear',
    source: 'API-9',
    rule: ['records.ts#IteratedTransaction.records', 'storage.ts#invariants'],
    requires: ['iterator'],
    run: async ({ storage }) => {
      const t1 = await commit(storage, []);
      const oid = await storage.newOid();
      const { txn } = await begin(storage);
      await storage.store(oid, 0n, rec('aborted'), txn);
      await storage.tpcAbort(txn);
      const t2 = await commit(storage, [{ oid, serial: 0n, data: 'x' }]);
      const txns = await collect(storage.iterator());
      assert.deepEqual(txns.map((t) => t.tid), [t1, t2]);
      assert.equal(txns[0]!.records.length, 0);
    },
  },
  {
    id: 'iterator-delete-record',
    title: 'a delete marker appears in the iteration as a record with null data',
    source: 'T36',
    rule: ['records.ts#IteratedRecord'],
    requires: ['iterator', 'externalGC'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage);
      const dt = await commit(storage, [{ oid, serial: tid, delete: true }]);
      const last = (await collect(storage.iterator(dt, dt)))[0];
      assert.ok(last !== undefined);
      assert.deepEqual(last.records.map((r) => [r.oid, r.record]), [[oid, null]]);
    },
  },
  {
    id: 'iterator-not-supported',
    title: 'without iterator, iterating raises NotSupportedError',
    source: 'API-17',
    rule: ['capabilities.ts#StorageCapabilities.iterator', 'storage.ts#invariants'],
    unless: ['iterator'],
    run: async ({ storage }) => {
      await createObject(storage);
      await rejectsNotSupported(() => collect(storage.iterator()), 'iterator');
    },
  },
  {
    id: 'restore-explicit-tid',
    title: 'restore under tpcBegin(txn, tid) writes revisions verbatim with that tid, without conflict checks',
    source: 'API-21',
    rule: ['storage.ts#Storage.restore', 'storage.ts#Storage.tpcBegin', 'storage.ts#Storage.newOid'],
    requires: ['restore'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'a');
      const chosen = tid + 1000n;
      const txn = storageTransaction({ user: 'copier' });
      assert.equal(await storage.tpcBegin(txn, chosen), chosen);
      await storage.restore(oid, rec('restored'), txn);
      const other = (await storage.newOid()) + 50n;
      await storage.restore(other, rec('new'), txn);
      await storage.tpcVote(txn);
      assert.equal(await storage.tpcFinish(txn), chosen);
      assert.equal(storage.lastTransaction(), chosen);
      assert.equal(text((await storage.load(oid)).data), 'restored');
      assert.equal((await storage.load(oid)).tid, chosen);
      assert.ok((await storage.newOid()) > other, 'restore bumps the oid counter');
    },
  },
  {
    id: 'restore-tid-must-increase',
    title: 'tpcBegin with an explicit tid not above lastTransaction() is rejected',
    source: 'API-2',
    rule: ['storage.ts#Storage.tpcBegin'],
    requires: ['restore'],
    run: async ({ storage }) => {
      const { tid } = await createObject(storage);
      await rejectsWithCode(storage.tpcBegin(storageTransaction(), tid), ['HANDLERTON_INVALID_ARGUMENT', 'HANDLERTON_STORAGE_TRANSACTION']);
      await createObject(storage);
    },
  },
  {
    id: 'restore-not-supported',
    title: 'without restore, restore() raises NotSupportedError',
    source: 'API-21',
    rule: ['capabilities.ts#StorageCapabilities.restore', 'storage.ts#invariants'],
    unless: ['restore'],
    run: async ({ storage }) => {
      const { txn } = await begin(storage);
      try {
        await rejectsNotSupported(() => storage.restore(1n, rec('x'), txn), 'restore');
      } finally {
        await storage.tpcAbort(txn);
      }
    },
  },
  {
    id: 'copy-transactions',
    title: 'copying every transaction into a fresh engine via iterator + restore gives identical loads, histories and iteration',
    source: 'T86',
    rule: ['capabilities.ts#StorageCapabilities.restore', 'storage.ts#Storage.restore', 'storage.ts#Storage.iterator'],
    requires: ['iterator', 'restore', 'history'],
    run: async (ctx) => {
      const { storage } = ctx;
      const a = await storage.newOid();
      const b = await storage.newOid();
      let ta = await commit(storage, [{ oid: a, serial: 0n, data: 'a0' }], { user: 'u1', description: 'create a', extension: { k: 1 } });
      const tb = await commit(storage, [{ oid: b, serial: 0n, data: 'b0', refs: { oids: [a] } }], { user: 'u2' });
      for (let i = 1; i < 4; i++) ta = await commit(storage, [{ oid: a, serial: ta, data: `a${i}` }], { description: `step ${i}` });
      await commit(storage, []);
      await commit(storage, [{ oid: b, serial: tb, data: 'b1' }]);
      const target = await ctx.extraEngines('copy');
      await copyTransactions(ctx, target);
      assert.deepEqual(summary(await collect(target.storage.iterator())), summary(await collect(storage.iterator())));
      assert.equal(target.storage.lastTransaction(), storage.lastTransaction());
      for (const oid of [a, b]) {
        const [x, y] = [await storage.load(oid), await target.storage.load(oid)];
        assert.deepEqual([y.tid, text(y.data), [...y.refs.oids]], [x.tid, text(x.data), [...x.refs.oids]]);
        const strip = (h: Awaited<ReturnType<Storage['history']>>): unknown => h.map((e) => ({ ...e, time: e.time.getTime() }));
        assert.deepEqual(strip(await target.storage.history(oid, 10)), strip(await storage.history(oid, 10)));
      }
    },
  },
  {
    id: 'copy-transactions-with-blobs',
    title: 'copying transactions with their blob revisions into a fresh engine gives identical records and blob bytes',
    source: 'T122',
    rule: ['storage.ts#Storage.restore', 'blob-handlerton.ts#BlobHandlerton.prepare'],
    requires: ['iterator', 'restore'],
    run: async (ctx) => {
      const { storage, blobs } = ctx;
      const o1 = await storage.newOid();
      const o2 = await storage.newOid();
      const b1 = await blobs.createBlob();
      const b2 = await blobs.createBlob();
      const big = new Uint8Array(300_000);
      big.set(patternChunk(1, 0, big.length));
      const first = await commitBlobRecords(storage, blobs, [
        { oid: o1, serial: 0n, blobId: b1, data: new TextEncoder().encode('small blob') },
        { oid: o2, serial: 0n, blobId: b2, data: big },
      ]);
      await commitBlobRecords(storage, blobs, [{ oid: o1, serial: first.tid, blobId: b1, data: new TextEncoder().encode('second revision') }]);
      const target = await ctx.extraEngines('copy');
      const map = await copyTransactions(ctx, target);
      const srcTxns = await collect(storage.iterator());
      const dstTxns = await collect(target.storage.iterator());
      assert.deepEqual(dstTxns.map((t) => t.tid), srcTxns.map((t) => t.tid));
      for (const oid of [o1, o2]) {
        const [x, y] = [await storage.load(oid), await target.storage.load(oid)];
        assert.equal(y.tid, x.tid);
        assert.deepEqual(Array.from(y.data), Array.from(x.data));
        assert.equal(y.refs.blobs.length, x.refs.blobs.length);
        for (let i = 0; i < x.refs.blobs.length; i++) {
          const [rx, ry] = [x.refs.blobs[i]!, y.refs.blobs[i]!];
          assert.equal(ry.blobId, map.get(rx.blobId));
          assert.equal(ry.revision, rx.revision);
          assert.deepEqual(await digestRevision(target.blobs, ry.blobId, ry.revision), await digestRevision(blobs, rx.blobId, rx.revision));
        }
      }
      if (storage.capabilities.history && target.storage.capabilities.history) {
        const strip = (h: Awaited<ReturnType<Storage['history']>>): unknown => h.map((e) => ({ ...e, time: e.time.getTime() }));
        for (const oid of [o1, o2]) assert.deepEqual(strip(await target.storage.history(oid, 10)), strip(await storage.history(oid, 10)));
      }
      const older = await storage.loadSerial(o1, first.tid);
      const olderRef = older.refs.blobs[0]!;
      assert.deepEqual(
        await digestRevision(target.blobs, map.get(olderRef.blobId)!, olderRef.revision),
        await digestRevision(blobs, olderRef.blobId, olderRef.revision),
        'older blob revisions are copied too',
      );
    },
  },
  {
    id: 'copy-incremental-across-pack',
    title: 'an incremental copy (iterator from the last copied tid) keeps working after the target packed',
    source: 'T87',
    rule: ['storage.ts#Storage.restore', 'storage.ts#Storage.pack'],
    requires: ['iterator', 'restore', 'pack'],
    run: async (ctx) => {
      const { storage } = ctx;
      const { oid, tids } = await revisions(storage, 3);
      const target = await ctx.extraEngines('copy');
      await copyTransactions(ctx, target);
      await target.storage.pack(target.storage.lastTransaction() + 1n);
      let serial = tids[2]!;
      for (let i = 3; i < 5; i++) serial = await commit(storage, [{ oid, serial, data: `rev${i}` }]);
      const copied = target.storage.lastTransaction();
      for await (const t of storage.iterator(copied + 1n)) {
        const txn = storageTransaction(t.meta);
        await target.storage.tpcBegin(txn, t.tid);
        for (const r of t.records) await target.storage.restore(r.oid, r.record, txn);
        await target.storage.tpcVote(txn);
        await target.storage.tpcFinish(txn);
      }
      const [x, y] = [await storage.load(oid), await target.storage.load(oid)];
      assert.deepEqual([y.tid, text(y.data)], [x.tid, text(x.data)]);
      assert.equal(target.storage.lastTransaction(), storage.lastTransaction());
    },
  },
  {
    id: 'copy-then-gc-target',
    title: 'after a copy, external GC and pack on the target remove the copied garbage only',
    source: 'T88',
    rule: ['storage.ts#Storage.restore', 'database.ts#Database.collectGarbage'],
    requires: ['iterator', 'restore', 'externalGC'],
    run: async (ctx) => {
      const { storage } = ctx;
      const live = await createObject(storage, 'live');
      await commit(storage, [{ oid: 0n, serial: 0n, data: 'root', refs: { oids: [live.oid] } }]);
      const garbage = await createObject(storage, 'garbage');
      const target = await ctx.extraEngines('copy');
      await copyTransactions(ctx, target);
      const db = await ctx.extraDatabase(target);
      const result = await db.collectGarbage({ keep: 0 });
      assert.equal(result.deleted, 1);
      await rejectsWithCode(target.storage.load(garbage.oid), 'HANDLERTON_POS_KEY');
      assert.equal(text((await target.storage.load(live.oid)).data), 'live');
      assert.equal(text((await storage.load(garbage.oid)).data), 'garbage', 'the source is untouched');
    },
  },
]);
