/** Packing: old revisions before the pack time go, current and newer ones stay, blobs are reclaimed. */
import assert from 'node:assert/strict';
import { Locator, isHandlertonError, type BlobRef, type Oid, type Storage, type Tid } from '@handlerton/framework';
import { rejectsNotSupported, rejectsWithCode } from '../util/assert-code.js';
import { commitBlobRecords } from '../util/blob-io.js';
import { readHandleText } from '../util/blob-io.js';
import { committedBlobText, createBlobWith, rewriteBlob } from '../util/db-blobs.js';
import { collect, commit, createObject, revisions, sleep, text } from '../util/records.js';
import { defineArea } from './define.js';

/** Three revisions, a gap, the pack point, a gap, two more revisions. */
async function straddle(storage: Storage): Promise<{ oid: Oid; tids: Tid[]; packTid: Tid }> {
  const { oid, tids } = await revisions(storage, 3);
  await sleep(3);
  const packTid = storage.lastTransaction() + 1n;
  await sleep(3);
  let serial = tids[2]!;
  for (let i = 3; i < 5; i++) {
    serial = await commit(storage, [{ oid, serial, data: `rev${i}` }]);
    tids.push(serial);
  }
  assert.ok(tids[3]! > packTid, 'revision 3 is after the pack point');
  return { oid, tids, packTid };
}

export const packingCases = defineArea('packing', [
  {
    id: 'pack-empty',
    title: 'packing an empty storage is a no-op',
    source: 'T44',
    rule: ['storage.ts#Storage.pack', 'records.ts#PackResult.removedRevisions', 'storage.ts#invariants'],
    requires: ['pack'],
    run: async ({ storage }) => {
      const result = await storage.pack(1n << 40n);
      assert.equal(result.removedRevisions, 0);
      assert.equal(storage.lastTransaction(), 0n);
    },
  },
  {
    id: 'pack-future',
    title: 'packing at a time after the last transaction keeps every current revision',
    source: 'T45',
    rule: ['storage.ts#Storage.pack'],
    requires: ['pack'],
    run: async ({ storage }) => {
      const a = await createObject(storage, 'a');
      const b = await createObject(storage, 'b');
      await storage.pack(storage.lastTransaction() + (1n << 30n));
      assert.equal(text((await storage.load(a.oid)).data), 'a');
      assert.equal(text((await storage.load(b.oid)).data), 'b');
      await createObject(storage, 'c');
    },
  },
  {
    id: 'pack-before-data',
    title: 'packing at a time before all data removes nothing',
    source: 'T46',
    rule: ['storage.ts#Storage.pack', 'records.ts#PackResult.removedRevisions'],
    requires: ['pack'],
    run: async ({ storage }) => {
      const { oid, tids } = await revisions(storage, 3);
      const result = await storage.pack(tids[0]! - 1n);
      assert.equal(result.removedRevisions, 0);
      for (let i = 0; i < 3; i++) assert.equal(text((await storage.loadSerial(oid, tids[i]!)).data), `rev${i}`);
    },
  },
  {
    id: 'pack-removes-old-revisions',
    title: 'pack removes revisions older than the one current at the pack time and keeps that one',
    source: 'T52',
    rule: ['storage.ts#Storage.pack', 'records.ts#PackResult.removedRevisions'],
    requires: ['pack'],
    run: async ({ storage }) => {
      const { oid, tids } = await revisions(storage, 4);
      const result = await storage.pack(storage.lastTransaction() + 1n);
      assert.ok(result.removedRevisions >= 3, `removedRevisions ${result.removedRevisions} >= 3`);
      for (let i = 0; i < 3; i++) await rejectsWithCode(storage.loadSerial(oid, tids[i]!), 'HANDLERTON_POS_KEY', `revision ${i}`);
      assert.equal(text((await storage.load(oid)).data), 'rev3');
      assert.equal((await storage.load(oid)).tid, tids[3]);
    },
  },
  {
    id: 'pack-keeps-newer-revisions',
    title: 'pack keeps the revision current at the pack time and every later one; loadBefore still serves them',
    source: 'API-24',
    rule: ['storage.ts#Storage.pack', 'storage.ts#Storage.loadBefore'],
    requires: ['pack', 'mvcc'],
    run: async ({ storage }) => {
      const { oid, tids, packTid } = await straddle(storage);
      await storage.pack(packTid);
      await rejectsWithCode(storage.loadSerial(oid, tids[0]!), 'HANDLERTON_POS_KEY');
      await rejectsWithCode(storage.loadSerial(oid, tids[1]!), 'HANDLERTON_POS_KEY');
      for (const i of [2, 3, 4]) assert.equal(text((await storage.loadSerial(oid, tids[i]!)).data), `rev${i}`);
      const atPack = await storage.loadBefore(oid, packTid);
      assert.equal(atPack === null ? null : text(atPack.data), 'rev2', 'the state at the pack time is intact');
      const mid = await storage.loadBefore(oid, tids[4]!);
      assert.equal(mid === null ? null : text(mid.data), 'rev3');
    },
  },
  {
    id: 'pack-history-after',
    title: 'after a pack, history lists only the kept revisions',
    source: 'T57',
    rule: ['storage.ts#Storage.pack', 'storage.ts#Storage.history'],
    requires: ['pack', 'history'],
    run: async ({ storage }) => {
      const { oid, tids, packTid } = await straddle(storage);
      await storage.pack(packTid);
      assert.deepEqual((await storage.history(oid, 10)).map((h) => h.tid), [tids[4], tids[3], tids[2]]);
    },
  },
  {
    id: 'pack-unrelated-untouched',
    title: 'an object with a single revision is untouched by a pack that trims another',
    source: 'T53',
    rule: ['storage.ts#Storage.pack'],
    requires: ['pack'],
    run: async ({ storage }) => {
      const single = await createObject(storage, 'single');
      await revisions(storage, 3);
      await storage.pack(storage.lastTransaction() + 1n);
      assert.equal(text((await storage.load(single.oid)).data), 'single');
      assert.equal((await storage.loadSerial(single.oid, single.tid)).tid, single.tid);
    },
  },
  {
    id: 'pack-no-gc',
    title: 'pack does not garbage-collect: an unreachable object with a current revision survives',
    source: 'T54',
    rule: ['storage.ts#Storage.pack'],
    requires: ['pack'],
    run: async ({ storage }) => {
      await commit(storage, [{ oid: 0n, serial: 0n, data: 'root without refs' }]);
      const orphan = await createObject(storage, 'unreachable');
      await storage.pack(storage.lastTransaction() + 1n);
      assert.equal(text((await storage.load(orphan.oid)).data), 'unreachable');
    },
  },
  {
    id: 'pack-drops-deleted-objects',
    title: 'pack drops every revision of an object deleted before the pack time',
    source: 'T58',
    rule: ['storage.ts#Storage.pack', 'records.ts#PackResult.removedObjects'],
    requires: ['pack', 'externalGC'],
    run: async ({ storage }) => {
      const { oid, tids } = await revisions(storage, 2);
      const dt = await commit(storage, [{ oid, serial: tids[1]!, delete: true }]);
      const result = await storage.pack(storage.lastTransaction() + 1n);
      assert.ok(result.removedObjects >= 1, 'removedObjects counts the deleted object');
      for (const t of tids) await rejectsWithCode(storage.loadSerial(oid, t), 'HANDLERTON_POS_KEY');
      await rejectsWithCode(storage.load(oid), 'HANDLERTON_POS_KEY');
      if (storage.capabilities.mvcc) {
        await rejectsWithCode(storage.loadBefore(oid, dt), 'HANDLERTON_POS_KEY', 'loadBefore the delete after the pack');
      }
    },
  },
  {
    id: 'pack-keeps-objects-deleted-later',
    title: 'an object deleted after the pack time keeps its revision current at the pack time',
    source: 'API-24',
    rule: ['storage.ts#Storage.pack'],
    requires: ['pack', 'externalGC', 'mvcc'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'alive at pack time');
      await sleep(3);
      const packTid = storage.lastTransaction() + 1n;
      await sleep(3);
      const dt = await commit(storage, [{ oid, serial: tid, delete: true }]);
      await storage.pack(packTid);
      const before = await storage.loadBefore(oid, dt);
      assert.equal(before === null ? null : text(before.data), 'alive at pack time');
    },
  },
  {
    id: 'redundant-pack',
    title: 'a second pack to an earlier time is a no-op or a typed error, and loses nothing',
    source: 'T56',
    rule: ['storage.ts#Storage.pack'],
    requires: ['pack'],
    run: async ({ storage }) => {
      const { oid, tids } = await revisions(storage, 3);
      await storage.pack(storage.lastTransaction() + 1n);
      try {
        await storage.pack(tids[0]!);
      } catch (e) {
        assert.ok(isHandlertonError(e), `a redundant pack may fail only with a typed error, got ${String(e)}`);
      }
      assert.equal(text((await storage.load(oid)).data), 'rev2');
    },
  },
  {
    id: 'pack-iterator-after',
    title: 'after a pack the iterator is sane: increasing tids, and the current revisions appear',
    source: 'T47',
    rule: ['storage.ts#Storage.iterator', 'storage.ts#Storage.pack'],
    requires: ['pack', 'iterator'],
    run: async ({ storage }) => {
      const a = await revisions(storage, 3, 'a');
      const b = await revisions(storage, 2, 'b');
      await storage.pack(storage.lastTransaction() + 1n);
      const txns = await collect(storage.iterator());
      for (let i = 1; i < txns.length; i++) assert.ok(txns[i]!.tid > txns[i - 1]!.tid);
      const records = txns.flatMap((t) => t.records);
      for (const [oid, tid] of [[a.oid, a.tids[2]!], [b.oid, b.tids[1]!]] as const) {
        assert.ok(records.some((r) => r.oid === oid && r.tid === tid), `current revision of ${oid} iterated`);
      }
      assert.ok(!records.some((r) => r.oid === a.oid && r.tid === a.tids[0]), 'a removed revision is not iterated');
    },
  },
  {
    id: 'pack-during-commits',
    title: 'a pack running while transactions commit loses nothing committed',
    source: 'T47',
    rule: ['storage.ts#Storage.pack'],
    requires: ['pack'],
    run: async (ctx) => {
      const { storage } = ctx;
      const objects: { oid: Oid; serial: Tid; value: string }[] = [];
      for (let i = 0; i < 8; i++) {
        const { oid, tid } = await createObject(storage, `o${i}-0`);
        objects.push({ oid, serial: tid, value: `o${i}-0` });
      }
      const writers = objects.map(async (o, i) => {
        for (let round = 1; round <= 6; round++) {
          const value = `o${i}-${round}`;
          o.serial = await commit(storage, [{ oid: o.oid, serial: o.serial, data: value }]);
          o.value = value;
        }
      });
      const packs = (async () => {
        for (let p = 0; p < 3; p++) {
          await sleep(1);
          await storage.pack(storage.lastTransaction() + 1n).catch((e: unknown) => {
            if (!isHandlertonError(e, 'HANDLERTON_PACK_IN_PROGRESS')) throw e;
          });
        }
      })();
      await Promise.all([...writers, packs]);
      for (const o of objects) {
        const loaded = await storage.load(o.oid);
        assert.equal(text(loaded.data), o.value);
        assert.equal(loaded.tid, o.serial);
      }
    },
  },
  {
    id: 'pack-concurrent-packs',
    title: 'two packs at once: both succeed or the second raises PackInProgressError',
    source: 'API-24',
    rule: ['storage.ts#Storage.pack'],
    requires: ['pack'],
    run: async ({ storage }) => {
      const { oid } = await revisions(storage, 5);
      const at = storage.lastTransaction() + 1n;
      const outcomes = await Promise.allSettled([storage.pack(at), storage.pack(at)]);
      assert.ok(outcomes.some((o) => o.status === 'fulfilled'));
      for (const o of outcomes) {
        if (o.status === 'rejected') assert.ok(isHandlertonError(o.reason, 'HANDLERTON_PACK_IN_PROGRESS'), String(o.reason));
      }
      assert.equal(text((await storage.load(oid)).data), 'rev4');
    },
  },
  {
    id: 'pack-reports-blob-refs',
    title: 'pack reports the blob references of every removed revision to its observer',
    source: 'API-27',
    rule: ['storage.ts#Storage.pack', 'records.ts#PackObserver'],
    requires: ['pack'],
    run: async ({ storage, blobs }) => {
      const oid = await storage.newOid();
      const blobId = await blobs.createBlob();
      const first = await commitBlobRecords(storage, blobs, [{ oid, serial: 0n, blobId, data: new TextEncoder().encode('one') }]);
      const second = await commitBlobRecords(storage, blobs, [{ oid, serial: first.tid, blobId, data: new TextEncoder().encode('two') }]);
      const released: BlobRef[] = [];
      await storage.pack(storage.lastTransaction() + 1n, { releaseBlobRefs: async (refs) => void released.push(...refs) });
      assert.deepEqual(released.map((r) => ({ ...r })), first.refs.map((r) => ({ ...r })));
      assert.deepEqual((await storage.load(oid)).refs.blobs.map((r) => ({ ...r })), second.refs.map((r) => ({ ...r })));
    },
  },
  {
    id: 'pack-not-supported',
    title: 'without pack, pack() raises NotSupportedError',
    source: 'API-24',
    rule: ['capabilities.ts#StorageCapabilities.pack', 'storage.ts#invariants'],
    unless: ['pack'],
    run: async ({ storage }) => {
      await createObject(storage);
      await rejectsNotSupported(() => storage.pack(storage.lastTransaction() + 1n), 'pack');
    },
  },
  {
    id: 'db-pack-reclaims-blobs',
    title: 'a Database pack reclaims the blob revisions of removed record revisions, reports them and their bytes, and keeps the current one',
    source: 'T119',
    rule: [
      'database.ts#Database.pack',
      'records.ts#DatabasePackResult.reclaimedBlobRevisions',
      'records.ts#DatabasePackResult.reclaimedBlobBytes',
      'database.ts#Database.openLocator',
    ],
    requires: ['pack', 'blob.refcount', 'mode.dataTransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'old'.repeat(1000));
      const snap = await db.snapshot();
      const old = Locator.from((await snap.blob(oid)).locator());
      await snap.close();
      await rewriteBlob(db, oid, 'new');
      assert.equal(await ctx.blobs.refcount(old.blobId, old.revision), 1, 'the old record revision still references it');
      const packed = await db.pack(db.lastTransaction() + 1n);
      assert.equal(packed.reclaimedBlobRevisions, 1, 'the pack reports the reclaimed blob revision');
      assert.equal(packed.reclaimedBlobBytes, 3000, 'and its size (the operator sees what a pack freed)');
      assert.equal(await ctx.blobs.refcount(old.blobId, old.revision), 0);
      await rejectsWithCode(ctx.blobs.openRevision(old.blobId, old.revision), 'HANDLERTON_POS_KEY', 'old revision reclaimed');
      await rejectsWithCode(db.openLocator(old), 'HANDLERTON_POS_KEY', 'its locator no longer opens');
      assert.equal(await committedBlobText(db, oid), 'new');
    },
  },
  {
    id: 'db-pack-open-reader',
    title: 'a reader open across a pack keeps reading; its revision is reclaimed once it closes',
    source: 'BL-14',
    rule: ['database.ts#invariants', 'blob-handlerton.ts#invariants'],
    requires: ['pack', 'blob.refcount', 'mode.dataTransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'read me across the pack');
      const snap = await db.snapshot();
      const loc = Locator.from((await snap.blob(oid)).locator());
      await snap.close();
      const reader = await db.openLocator(loc);
      const head = await reader.read(8);
      await rewriteBlob(db, oid, 'replaced');
      await db.pack(db.lastTransaction() + 1n);
      assert.equal(new TextDecoder().decode(head) + (await readHandleText(reader)), 'read me across the pack');
      await reader.close();
      await ctx.blobs.reclaim();
      await rejectsWithCode(ctx.blobs.openRevision(loc.blobId, loc.revision), 'HANDLERTON_POS_KEY');
    },
  },
  {
    id: 'db-pack-default-now',
    title: 'db.pack() without a time packs as of now: a revision replaced just before is removed',
    source: 'API-24',
    rule: ['database.ts#Database.pack'],
    requires: ['pack'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(new TextEncoder().encode('old')));
      const first = db.lastTransaction();
      await db.transaction((tx) => tx.write(oid, new TextEncoder().encode('new')));
      await db.pack();
      await rejectsWithCode(ctx.storage.loadSerial(oid, first), 'HANDLERTON_POS_KEY', 'the replaced revision is packed away');
      const snap = await db.snapshot();
      assert.equal(text((await snap.read(oid)).data), 'new');
      await snap.close();
    },
  },
  {
    id: 'db-pack-pending-blob',
    title: 'a blob being written while a pack runs commits afterwards with its data intact',
    source: 'BL-14',
    rule: ['database.ts#Database.pack'],
    requires: ['pack'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'v1');
      await rewriteBlob(db, oid, 'v2');
      await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('w');
        await h.write('written during pack');
        await db.pack(db.lastTransaction() + 1n);
        await h.flush();
        await h.close();
      });
      assert.equal(await committedBlobText(db, oid), 'written during pack');
    },
  },
  {
    id: 'pack-lots-while-writing',
    title: 'many packs in a row while a writer commits: the writer finishes and every current value is intact',
    source: 'T49',
    rule: ['storage.ts#Storage.pack'],
    requires: ['pack'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, '0');
      let done = false;
      const writer = (async () => {
        try {
          let serial = tid;
          for (let i = 1; i <= 30; i++) serial = await commit(storage, [{ oid, serial, data: String(i) }]);
        } finally {
          done = true;
        }
      })();
      let packs = 0;
      while (!done) {
        await storage.pack(storage.lastTransaction() + 1n).catch((e: unknown) => {
          if (!isHandlertonError(e, 'HANDLERTON_PACK_IN_PROGRESS')) throw e;
        });
        packs += 1;
        await sleep(1);
      }
      await writer;
      assert.ok(packs > 0);
      assert.equal(text((await storage.load(oid)).data), '30');
    },
  },
  {
    id: 'gc-then-pack',
    title: 'collectGarbage then pack removes every revision of unreachable objects and keeps reachable ones',
    source: 'T51',
    rule: ['database.ts#Database.collectGarbage', 'storage.ts#Storage.pack'],
    requires: ['pack', 'externalGC'],
    run: async (ctx) => {
      const db = await ctx.database();
      const enc = new TextEncoder();
      const [kept, orphan] = await db.transaction(async (tx) => {
        const k = await tx.create(enc.encode('kept'));
        await tx.write(0n, enc.encode('root'), { refs: [k] });
        return [k, await tx.create(enc.encode('orphan v1'))];
      });
      const orphanFirst = (await ctx.storage.load(orphan)).tid;
      await db.transaction((tx) => tx.write(orphan, enc.encode('orphan v2')));
      await db.collectGarbage({ keep: 0 });
      await db.pack(db.lastTransaction() + 1n);
      await rejectsWithCode(ctx.storage.loadSerial(orphan, orphanFirst), 'HANDLERTON_POS_KEY');
      await rejectsWithCode(ctx.storage.load(orphan), 'HANDLERTON_POS_KEY');
      assert.equal(text((await ctx.storage.load(kept)).data), 'kept');
    },
  },
  {
    id: 'snapshot-older-than-pack-read-conflict',
    title: 'a snapshot older than the pack horizon raises ReadConflictError for an object whose revision pack removed; newer views are unaffected',
    source: 'ZODB MVCCAdapter (ReadConflictError for data packed away)',
    rule: ['storage.ts#Storage.packHorizon', 'database.ts#ReadView.read', 'database.ts#ReadView.tryRead'],
    requires: ['pack', 'mvcc'],
    run: async (ctx) => {
      const db = await ctx.database();
      const enc = new TextEncoder();
      const oid = await db.transaction(async (tx) => {
        const created = await tx.create(enc.encode('v1'));
        await tx.write(0n, enc.encode('root'), { refs: [created] });
        return created;
      });
      assert.equal(ctx.storage.packHorizon(), 0n, 'never packed: horizon 0');
      const old = await db.snapshot();
      await db.transaction((tx) => tx.write(oid, enc.encode('v2')));
      const later = await db.transaction((tx) => tx.create(enc.encode('created after the old snapshot')));
      assert.equal(text((await old.read(oid)).data), 'v1', 'before the pack the old snapshot reads v1');
      await db.pack();
      assert.equal(ctx.storage.packHorizon(), db.lastTransaction(), 'pack "now" raises the horizon to the last transaction');
      await rejectsWithCode(old.read(oid), 'HANDLERTON_READ_CONFLICT', 'read of a packed-away revision');
      await rejectsWithCode(old.tryRead(oid), 'HANDLERTON_READ_CONFLICT', 'tryRead must not answer "does not exist"');
      await rejectsWithCode(old.tryRead(later), 'HANDLERTON_READ_CONFLICT', 'older than the horizon, absence cannot be told from loss');
      assert.equal(text((await old.read(0n)).data), 'root', 'a revision pack kept is still served');
      await old.close();
      const fresh = await db.snapshot();
      assert.equal(text((await fresh.read(oid)).data), 'v2');
      assert.equal(await fresh.tryRead(later + 1000n), undefined, 'a view at the horizon still reports absence');
      await fresh.close();
    },
  },
  {
    id: 'read-conflict-after-delete-pack',
    title: 'a snapshot older than the pack horizon raises ReadConflictError (not POSKeyError) for an object deleted and packed away',
    source: 'ZODB MVCCAdapter (ReadConflictError for data packed away)',
    rule: ['storage.ts#Storage.packHorizon', 'database.ts#ReadView.read'],
    requires: ['pack', 'mvcc', 'externalGC'],
    run: async (ctx) => {
      const db = await ctx.database();
      const enc = new TextEncoder();
      const oid = await db.transaction((tx) => tx.create(enc.encode('doomed')));
      const old = await db.snapshot();
      await db.transaction((tx) => tx.delete(oid));
      await db.pack();
      await rejectsWithCode(old.read(oid), 'HANDLERTON_READ_CONFLICT');
      await old.close();
    },
  },
  {
    id: 'pack-horizon-survives-reopen',
    title: 'the pack horizon is durable: after a reopen a snapshot older than it still raises ReadConflictError',
    source: 'ZODB MVCCAdapter (ReadConflictError for data packed away)',
    rule: ['storage.ts#Storage.packHorizon'],
    requires: ['pack', 'mvcc', 'durable'],
    run: async (ctx) => {
      let db = await ctx.database();
      const enc = new TextEncoder();
      const oid = await db.transaction((tx) => tx.create(enc.encode('v1')));
      const oldTid = db.lastTransaction();
      await db.transaction((tx) => tx.write(oid, enc.encode('v2')));
      await db.pack();
      const horizon = ctx.storage.packHorizon();
      await ctx.reopen();
      assert.equal(ctx.storage.packHorizon(), horizon, 'the horizon is kept across reopen');
      db = await ctx.database();
      const old = await db.snapshot(oldTid);
      await rejectsWithCode(old.read(oid), 'HANDLERTON_READ_CONFLICT');
      await old.close();
    },
  },
]);