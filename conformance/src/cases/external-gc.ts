/** External-GC deletes: deleteObject's serial seat belt, MVCC after a delete, pack and blob reclaim; the collector's root check, dry run, safety window and spill path. */
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Locator, storageTransaction, type Database, type Oid } from '@handlerton/framework';
import { rejectsNotSupported, rejectsWithCode } from '../util/assert-code.js';
import { readHandleText } from '../util/blob-io.js';
import { createBlobWith } from '../util/db-blobs.js';
import { begin, commit, createObject, revisions, text } from '../util/records.js';
import { defineArea } from './define.js';

const enc = new TextEncoder();

/** Root -> mid -> leaf, plus an unreachable chain orphan -> orphan child; refs always explicit. */
async function rootAndOrphans(db: Database): Promise<{ live: Oid[]; orphans: Oid[] }> {
  return db.transaction(async (tx) => {
    const leaf = await tx.create(enc.encode('leaf'), { refs: [] });
    const mid = await tx.create(enc.encode('mid'), { refs: [leaf] });
    await tx.write(0n, enc.encode('root'), { refs: [mid] });
    const child = await tx.create(enc.encode('orphan child'), { refs: [leaf] });
    const orphan = await tx.create(enc.encode('orphan'), { refs: [child] });
    return { live: [0n, mid, leaf], orphans: [child, orphan].sort((a, b) => (a < b ? -1 : 1)) };
  });
}

/** The current serial of every oid (throws POSKeyError when one is gone). */
async function serials(db: Database, oids: readonly Oid[]): Promise<bigint[]> {
  const snap = await db.snapshot();
  try {
    return await Promise.all(oids.map(async (oid) => (await snap.read(oid)).tid));
  } finally {
    await snap.close();
  }
}

export const externalGcCases = defineArea('external-gc', [
  {
    id: 'delete-right-serial',
    title: 'deleteObject with the current serial removes the object: load raises POSKeyError',
    source: 'API-23',
    rule: ['storage.ts#Storage.deleteObject', 'storage.ts#Storage.load'],
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
    rule: ['storage.ts#Storage.deleteObject', 'storage.ts#Storage.loadBefore'],
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
    rule: ['storage.ts#Storage.deleteObject'],
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
    rule: ['storage.ts#Storage.deleteObject'],
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
    rule: ['storage.ts#Storage.deleteObject'],
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
    rule: ['storage.ts#Storage.tpcAbort', 'storage.ts#invariants'],
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
    rule: ['storage.ts#Storage.deleteObject'],
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
    rule: ['records.ts#HistoryEntry.deleted', 'records.ts#HistoryEntry.size'],
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
    rule: ['storage.ts#Storage.pack'],
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
    rule: ['capabilities.ts#StorageCapabilities.externalGC', 'storage.ts#invariants'],
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
    rule: ['database.ts#invariants', 'blob-handlerton.ts#invariants'],
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
    rule: ['database.ts#Database.collectGarbage', 'database.ts#GcResult.deleted'],
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
    rule: ['database.ts#Transaction.delete'],
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
    rule: ['database.ts#Transaction.delete', 'capabilities.ts#invariants'],
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
    rule: ['storage.ts#Storage.close'],
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
    rule: ['storage.ts#Storage.deleteObject', 'storage.ts#Storage.tpcVote', 'storage.ts#invariants'],
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
    rule: ['database.ts#Database.collectGarbage'],
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
    rule: ['database.ts#Database.collectGarbage', 'database.ts#WriteOptions.refs'],
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
  {
    id: 'collect-garbage-root-missing',
    title: 'collectGarbage on a database without a root raises GcRootMissingError (also in a dry run) and deletes nothing',
    source: 'GC-2',
    rule: ['database.ts#Database.collectGarbage', 'errors.ts#GcRootMissingError'],
    requires: ['externalGC', 'iterator'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oids = await db.transaction(async (tx) => {
        const a = await tx.create(enc.encode('a'), { refs: [] });
        return [a, await tx.create(enc.encode('b'), { refs: [a] })];
      });
      const before = await serials(db, oids);
      const last = db.lastTransaction();
      await rejectsWithCode(db.collectGarbage({ keep: 0 }), 'HANDLERTON_GC_NO_ROOT');
      await rejectsWithCode(db.collectGarbage({ keep: 0, dryRun: true }), 'HANDLERTON_GC_NO_ROOT', 'dry run');
      assert.equal(db.lastTransaction(), last, 'no transaction was written');
      assert.deepEqual(await serials(db, oids), before, 'every object still loads with its serial');
    },
  },
  {
    id: 'collect-garbage-dry-run',
    title: 'collectGarbage({ dryRun }) reports the unreachable oids and changes nothing; the real run then deletes exactly those',
    source: 'GC-2',
    rule: ['database.ts#GcOptions.dryRun', 'database.ts#GcResult.garbage', 'database.ts#GcResult.oids'],
    requires: ['externalGC', 'iterator'],
    run: async (ctx) => {
      const db = await ctx.database();
      const { live, orphans } = await rootAndOrphans(db);
      const before = await serials(db, [...live, ...orphans]);
      const last = db.lastTransaction();
      const dry = await db.collectGarbage({ keep: 0, dryRun: true });
      assert.deepEqual([dry.dryRun, dry.garbage, dry.deleted, dry.oids, dry.reachable], [true, 2, 0, orphans, 3]);
      assert.equal(db.lastTransaction(), last, 'a dry run writes no transaction');
      assert.deepEqual(await serials(db, [...live, ...orphans]), before, 'every object still loads with its serial');
      const real = await db.collectGarbage({ keep: 0 });
      assert.deepEqual([real.dryRun, real.garbage, real.deleted, real.oids], [false, 2, 2, orphans]);
      assert.deepEqual(await serials(db, live), before.slice(0, 3));
    },
  },
  {
    id: 'collect-garbage-safety-window',
    title: 'garbage written within the safety window (keep) is kept, with what it references; keep: 0 collects it',
    source: 'GC-2',
    rule: ['database.ts#GcOptions.keep', 'database.ts#GcResult.recent'],
    requires: ['externalGC', 'iterator'],
    run: async (ctx) => {
      const db = await ctx.database();
      const { live, orphans } = await rootAndOrphans(db);
      const kept = await db.collectGarbage({ keep: 3_600_000 });
      assert.deepEqual([kept.garbage, kept.deleted, kept.recent], [0, 0, 2]);
      const defaulted = await db.collectGarbage();
      assert.deepEqual([defaulted.garbage, defaulted.deleted], [0, 0], 'the default window is one hour');
      await serials(db, [...live, ...orphans]);
      const collected = await db.collectGarbage({ keep: 0 });
      assert.deepEqual([collected.deleted, collected.oids], [2, orphans]);
    },
  },
  {
    id: 'collect-garbage-spill',
    title: 'collectGarbage through spilled sorted runs (tiny spillThreshold) finds the same garbage as in memory and leaves no files',
    source: 'GC-2',
    rule: ['database.ts#GcOptions.spillThreshold', 'database.ts#GcOptions.tmpDir', 'database.ts#GcResult.spilled'],
    requires: ['externalGC', 'iterator'],
    run: async (ctx) => {
      const db = await ctx.database();
      const garbage = await db.transaction(async (tx) => {
        const live: Oid[] = [];
        const dead: Oid[] = [];
        for (let i = 0; i < 40; i++) live.push(await tx.create(enc.encode(`live ${i}`), { refs: i % 2 === 1 ? [live[i - 1]!] : [] }));
        for (let i = 0; i < 30; i++) dead.push(await tx.create(enc.encode(`dead ${i}`), { refs: i > 0 ? [dead[i - 1]!, live[i]!] : [] }));
        await tx.write(0n, enc.encode('root'), { refs: live.filter((_, i) => i % 2 === 1) });
        return dead;
      });
      const tmpDir = join(ctx.dir, 'gc-spill');
      await mkdir(tmpDir);
      const memory = await db.collectGarbage({ keep: 0, dryRun: true });
      const spilled = await db.collectGarbage({ keep: 0, dryRun: true, spillThreshold: 4, tmpDir });
      assert.ok(spilled.spilled, 'the runs went through files');
      assert.deepEqual({ ...spilled, spilled: false }, memory);
      assert.deepEqual([memory.garbage, memory.reachable, memory.oids], [30, 41, garbage]);
      const real = await db.collectGarbage({ keep: 0, spillThreshold: 4, tmpDir });
      assert.deepEqual([real.deleted, real.oids], [30, garbage]);
      assert.deepEqual(await readdir(tmpDir), [], 'the spilled runs were removed');
    },
  },
  {
    id: 'write-without-refs-keeps-blob',
    title: 'a record rewritten without refs keeps referencing its blob: collectGarbage and pack leave the blob readable',
    source: 'issue 11 item 1; DESIGN: references are part of the object graph',
    rule: ['database.ts#WriteOptions.refs', 'database.ts#Database.collectGarbage'],
    requires: ['externalGC', 'pack'],
    run: async (ctx) => {
      const db = await ctx.database();
      const [blobOid, meta] = await db.transaction(async (tx) => {
        const blob = await tx.createBlob();
        const w = await blob.open('w');
        await w.write('video bytes');
        await w.close();
        const m = await tx.create(enc.encode('{"v":1}'), { refs: [blob.oid] });
        await tx.write(0n, enc.encode('root'), { refs: [m] });
        return [blob.oid, m];
      });
      await db.transaction((tx) => tx.write(meta, enc.encode('{"v":2}')));
      const gc = await db.collectGarbage({ keep: 0 });
      assert.equal(gc.deleted, 0, 'nothing is unreachable');
      await db.pack();
      const snap = await db.snapshot();
      assert.deepEqual((await snap.read(meta)).refs, [blobOid]);
      const h = await (await snap.blob(blobOid)).open('r');
      assert.equal(await readHandleText(h), 'video bytes');
      await h.close();
      await snap.close();
    },
  },
]);