/** External-GC deletes: deleteObject's serial seat belt, MVCC after a delete, pack and blob reclaim. */
import assert from 'node:assert/strict';
import { Locator, storageTransaction } from '@handlerton/framework';
import { rejectsNotSupported, rejectsWithCode } from '../util/assert-code.js';
import { readHandleText } from '../util/blob-io.js';
import { createBlobWith } from '../util/db-blobs.js';
import { begin, commit, createObject, revisions, text } from '../util/records.js';
import { defineArea } from './define.js';

const enc = new TextEncoder();

export const externalGcCases = defineArea('external-gc', [
  {
    id: 'delete-right-serial',
    title: 'deleteObject with the current serial removes the object: load raises POSKeyError',
    source: 'API-23',
    requires: ['externalGC'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'doomed');
      const dt = await commit(storage, [{ oid, serial: tid, delete: true }]);
      assert.ok(dt > tid);
      assert.equal(storage.lastTransaction(), dt);
      await rejectsWithCode(storage.load(oid), 'HANDLERTON_POS_KEY');
    },
  },
  {
    id: 'delete-mvcc',
    title: 'after a delete, loadBefore(oid, deleteTid) still serves the previous revision (nextTid = deleteTid); later tids raise POSKeyError',
    source: 'API-23',
    requires: ['externalGC', 'mvcc'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'before delete');
      const dt = await commit(storage, [{ oid, serial: tid, delete: true }]);
      const prev = await storage.loadBefore(oid, dt);
      assert.ok(prev !== null);
      assert.equal(text(prev.data), 'before delete');
      assert.equal(prev.tid, tid);
      assert.equal(prev.nextTid, dt);
      await rejectsWithCode(storage.loadBefore(oid, dt + 1n), 'HANDLERTON_POS_KEY', 'loadBefore past the delete (API-14)');
    },
  },
  {
    id: 'delete-keeps-old-revisions',
    title: 'before a pack, older revisions of a deleted object still load by serial',
    source: 'API-23',
    requires: ['externalGC'],
    run: async ({ storage }) => {
      const { oid, tids } = await revisions(storage, 3);
      await commit(storage, [{ oid, serial: tids[2]!, delete: true }]);
      for (let i = 0; i < 3; i++) assert.equal(text((await storage.loadSerial(oid, tids[i]!)).data), `rev${i}`);
    },
  },
  {
    id: 'delete-wrong-serial',
    title: 'deleteObject with a serial that is not current raises ConflictError and deletes nothing',
    source: 'T58',
    requires: ['externalGC'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'a');
      const t2 = await commit(storage, [{ oid, serial: tid, data: 'b' }]);
      await rejectsWithCode(commit(storage, [{ oid, serial: tid, delete: true }]), 'HANDLERTON_CONFLICT');
      assert.equal((await storage.load(oid)).tid, t2);
    },
  },
  {
    id: 'delete-unknown',
    title: 'deleteObject of an object with no current revision raises POSKeyError',
    source: 'API-23',
    requires: ['externalGC'],
    run: async ({ storage }) => {
      const oid = await storage.newOid();
      await rejectsWithCode(commit(storage, [{ oid, serial: 0n, delete: true }]), 'HANDLERTON_POS_KEY', 'never stored');
      const { oid: gone, tid } = await createObject(storage);
      const dt = await commit(storage, [{ oid: gone, serial: tid, delete: true }]);
      await rejectsWithCode(commit(storage, [{ oid: gone, serial: dt, delete: true }]), ['HANDLERTON_POS_KEY', 'HANDLERTON_CONFLICT'], 'already deleted');
    },
  },
  {
    id: 'delete-aborted',
    title: 'an aborted delete leaves the object loadable with its serial',
    source: 'API-8',
    requires: ['externalGC'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'survivor');
      const { txn } = await begin(storage);
      await storage.deleteObject(oid, tid, txn);
      await storage.tpcVote(txn);
      await storage.tpcAbort(txn);
      assert.equal(text((await storage.load(oid)).data), 'survivor');
      assert.equal((await storage.load(oid)).tid, tid);
    },
  },
  {
    id: 'delete-needs-transaction',
    title: 'deleteObject outside the active transaction raises StorageTransactionError',
    source: 'API-5',
    requires: ['externalGC'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage);
      await rejectsWithCode(storage.deleteObject(oid, tid, storageTransaction()), 'HANDLERTON_STORAGE_TRANSACTION');
      assert.equal((await storage.load(oid)).tid, tid);
    },
  },
  {
    id: 'delete-history-marker',
    title: 'history shows the delete as a revision with deleted = true and size 0',
    source: 'API-16',
    requires: ['externalGC', 'history'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'abc');
      const dt = await commit(storage, [{ oid, serial: tid, delete: true }], { description: 'gc' });
      const [marker, original] = await storage.history(oid, 5);
      assert.ok(marker !== undefined && original !== undefined);
      assert.deepEqual([marker.tid, marker.deleted, marker.size, marker.description], [dt, true, 0, 'gc']);
      assert.deepEqual([original.tid, original.deleted, original.size], [tid, false, 3]);
    },
  },
  {
    id: 'delete-then-pack',
    title: 'a pack after the delete removes the object entirely: loadSerial and loadBefore raise POSKeyError',
    source: 'GC-4',
    requires: ['externalGC', 'pack'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'x');
      const keep = await createObject(storage, 'kept');
      const dt = await commit(storage, [{ oid, serial: tid, delete: true }]);
      await storage.pack(storage.lastTransaction() + 1n);
      await rejectsWithCode(storage.loadSerial(oid, tid), 'HANDLERTON_POS_KEY');
      if (storage.capabilities.mvcc) await rejectsWithCode(storage.loadBefore(oid, dt), 'HANDLERTON_POS_KEY');
      if (storage.capabilities.history) await rejectsWithCode(storage.history(oid, 1), 'HANDLERTON_POS_KEY');
      assert.equal(text((await storage.load(keep.oid)).data), 'kept');
    },
  },
  {
    id: 'delete-not-supported',
    title: 'without externalGC, deleteObject raises NotSupportedError',
    source: 'API-23',
    unless: ['externalGC'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage);
      const { txn } = await begin(storage);
      try {
        await rejectsNotSupported(() => storage.deleteObject(oid, tid, txn), 'deleteObject');
      } finally {
        await storage.tpcAbort(txn);
      }
    },
  },
  {
    id: 'deleted-blob-survives-open-handle',
    title: "a deleted blob object's revision survives while a handle is open and is reclaimed after pack once closed",
    source: 'T58',
    requires: ['externalGC', 'pack', 'blob.refcount', 'mode.dataTransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'blob of a deleted object');
      const snap = await db.snapshot();
      const loc = Locator.from((await snap.blob(oid)).locator());
      await snap.close();
      const reader = await db.openLocator(loc);
      await db.transaction((tx) => tx.delete(oid));
      await db.pack(db.lastTransaction() + 1n);
      assert.equal(await readHandleText(reader), 'blob of a deleted object', 'the open handle keeps reading');
      await reader.close();
      await db.pack(db.lastTransaction() + 1n);
      assert.equal(await ctx.blobs.refcount(loc.blobId, loc.revision), 0);
      await rejectsWithCode(ctx.blobs.openRevision(loc.blobId, loc.revision), 'HANDLERTON_POS_KEY', 'reclaimed after close and pack');
    },
  },
  {
    id: 'collect-garbage',
    title: 'collectGarbage deletes exactly the objects unreachable from the root',
    source: 'GC-2',
    requires: ['externalGC'],
    run: async (ctx) => {
      const db = await ctx.database();
      const [leaf, orphan, orphanChild] = await db.transaction(async (tx) => {
        const l = await tx.create(enc.encode('leaf'));
        const mid = await tx.create(enc.encode('mid'), { refs: [l] });
        await tx.write(0n, enc.encode('root'), { refs: [mid] });
        const oc = await tx.create(enc.encode('orphan child'));
        const o = await tx.create(enc.encode('orphan'), { refs: [oc] });
        return [l, o, oc];
      });
      const result = await db.collectGarbage({ keep: 0 });
      assert.equal(result.deleted, 2);
      assert.ok(result.reachable >= 3);
      const snap = await db.snapshot();
      assert.equal(text((await snap.read(leaf)).data), 'leaf');
      assert.equal(await snap.tryRead(orphan), undefined);
      assert.equal(await snap.tryRead(orphanChild), undefined);
      await snap.close();
    },
  },
  {
    id: 'transaction-delete',
    title: 'tx.delete makes the record unreadable in the transaction and, after commit, everywhere',
    source: 'API-23',
    requires: ['externalGC'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(enc.encode('x')));
      await db.transaction(async (tx) => {
        await tx.delete(oid);
        assert.equal(await tx.tryRead(oid), undefined);
        await rejectsWithCode(tx.read(oid), 'HANDLERTON_POS_KEY');
      });
      const snap = await db.snapshot();
      assert.equal(await snap.tryRead(oid), undefined);
      await snap.close();
    },
  },
  {
    id: 'database-delete-not-supported',
    title: 'without externalGC, tx.delete raises NotSupportedError',
    source: 'API-23',
    unless: ['externalGC'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(enc.encode('x')));
      await db.transaction(async (tx) => {
        await rejectsNotSupported(() => tx.delete(oid), 'tx.delete');
      });
    },
  },
  {
    id: 'teardown-after-gc',
    title: 'an engine whose objects were all deleted by an external GC (and packed) closes and tears down cleanly',
    source: 'GC-3',
    requires: ['externalGC'],
    run: async ({ storage }) => {
      const objects = [await createObject(storage, 'a'), await createObject(storage, 'b')];
      await commit(storage, objects.map((o) => ({ oid: o.oid, serial: o.tid, delete: true })));
      if (storage.capabilities.pack) await storage.pack(storage.lastTransaction() + 1n);
    },
  },
  {
    id: 'delete-with-store-atomic',
    title: 'a delete and a store in one transaction commit together, or not at all on conflict',
    source: 'API-23',
    requires: ['externalGC'],
    run: async ({ storage }) => {
      const a = await createObject(storage, 'a');
      const b = await createObject(storage, 'b');
      const stale = b.tid;
      await commit(storage, [{ oid: b.oid, serial: b.tid, data: 'b2' }]);
      await rejectsWithCode(
        commit(storage, [
          { oid: a.oid, serial: a.tid, delete: true },
          { oid: b.oid, serial: stale, data: 'b3' },
        ]),
        'HANDLERTON_CONFLICT',
      );
      assert.equal(text((await storage.load(a.oid)).data), 'a', 'the delete was rolled back with the conflict');
      const current = (await storage.load(b.oid)).tid;
      const t = await commit(storage, [
        { oid: a.oid, serial: a.tid, delete: true },
        { oid: b.oid, serial: current, data: 'b3' },
      ]);
      await rejectsWithCode(storage.load(a.oid), 'HANDLERTON_POS_KEY');
      assert.equal((await storage.load(b.oid)).tid, t);
    },
  },
  {
    id: 'collect-garbage-idempotent',
    title: 'a second collectGarbage right after the first deletes nothing',
    source: 'GC-3',
    requires: ['externalGC'],
    run: async (ctx) => {
      const db = await ctx.database();
      await db.transaction(async (tx) => {
        const keep = await tx.create(enc.encode('keep'));
        await tx.write(0n, enc.encode('root'), { refs: [keep] });
        await tx.create(enc.encode('garbage'));
      });
      assert.equal((await db.collectGarbage({ keep: 0 })).deleted, 1);
      assert.equal((await db.collectGarbage({ keep: 0 })).deleted, 0);
    },
  },
  {
    id: 'collect-garbage-blobs',
    title: 'collectGarbage keeps blobs reachable from the root and deletes unreferenced ones',
    source: 'GC-2',
    requires: ['externalGC'],
    run: async (ctx) => {
      const db = await ctx.database();
      const kept = await createBlobWith(db, 'reachable blob', true);
      const dropped = await createBlobWith(db, 'unreachable blob');
      await db.collectGarbage({ keep: 0 });
      const snap = await db.snapshot();
      const h = await (await snap.blob(kept)).open('r');
      assert.equal(await readHandleText(h), 'reachable blob');
      await h.close();
      await rejectsWithCode(snap.blob(dropped), 'HANDLERTON_POS_KEY');
      await snap.close();
    },
  },
]);
