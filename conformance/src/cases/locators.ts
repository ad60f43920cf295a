/** Locators and handles: round trips, forgery, handle positioning, refcounts, the three modes. */
import assert from 'node:assert/strict';
import { LOCATOR_SIZE, Locator, LocatorCodec, handlertonId, type BlobHandle, type Database, type Oid } from '@handlerton/framework';
import { rejectsWithCode, throwsWithCode } from '../util/assert-code.js';
import { readHandleText } from '../util/blob-io.js';
import { committedBlobText, createBlobWith, revisionOf, rewriteBlob } from '../util/db-blobs.js';
import { defineArea } from './define.js';

async function committedLocator(db: Database, oid: Oid, access: { write?: boolean; append?: boolean } = {}): Promise<Locator> {
  const snap = await db.snapshot();
  try {
    return (await snap.blob(oid)).locator(access);
  } finally {
    await snap.close();
  }
}

/** Opens `locator` for reading outside a transaction and returns its contents. */
async function readLocator(db: Database, locator: Locator | Uint8Array | string): Promise<string> {
  const h = await db.openLocator(locator);
  try {
    return await readHandleText(h);
  } finally {
    await h.close();
  }
}

function tamper(bytes: Uint8Array, offset: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[offset] = copy[offset]! ^ 0x01;
  return copy;
}

export const locatorCases = defineArea('locators', [
  {
    id: 'binary-roundtrip',
    title: 'a locator is 64 bytes; its binary form parses back to the same fields and opens the same revision',
    source: 'WL#3583 BLOB_LOCATOR',
    rule: [
      'locator.ts#invariants',
      'locator.ts#Locator.fromBytes',
      'locator.ts#Locator.toBytes',
      'database.ts#Database.openLocator',
    ],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'located');
      const loc = await committedLocator(db, oid);
      const raw = loc.toBytes();
      assert.equal(raw.length, LOCATOR_SIZE);
      const back = Locator.fromBytes(raw);
      assert.deepEqual([back.oid, back.blobId, back.revision, back.mode], [loc.oid, loc.blobId, loc.revision, loc.mode]);
      assert.equal(back.oid, oid);
      assert.equal(back.mode, db.capabilities.blobs.mode);
      assert.equal(back.handlertonId, handlertonId(db.engines.blobs));
      assert.equal(await readLocator(db, raw), 'located');
    },
  },
  {
    id: 'string-roundtrip',
    title: 'the string form (open_string) round-trips and opens the same revision',
    source: 'WL#3583 open_string',
    rule: ['locator.ts#invariants', 'locator.ts#Locator.parse', 'locator.ts#Locator.toString'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'as string');
      const loc = await committedLocator(db, oid);
      const s = loc.toString();
      assert.match(s, /^hl1\.[A-Za-z0-9_-]+$/);
      assert.deepEqual(Locator.parse(s).toBytes(), loc.toBytes());
      assert.equal(await readLocator(db, s), 'as string');
    },
  },
  {
    id: 'tampered-rejected',
    title: 'a locator with any altered byte (fields or MAC) is rejected with InvalidLocatorError',
    source: 'DESIGN Locator',
    rule: ['locator.ts#LocatorCodec.verify', 'database.ts#Database.openLocator'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'x');
      const raw = (await committedLocator(db, oid)).toBytes();
      for (const offset of [1, 9, 17, 25, 33, 41, 48, 63]) {
        await rejectsWithCode(db.openLocator(tamper(raw, offset)), 'HANDLERTON_INVALID_LOCATOR', `byte ${offset} altered`);
      }
    },
  },
  {
    id: 'truncated-rejected',
    title: 'truncated or extended locators (binary and string) are rejected with InvalidLocatorError',
    source: 'DESIGN Locator',
    rule: ['locator.ts#Locator.fromBytes', 'locator.ts#Locator.parse', 'database.ts#Database.openLocator'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'x');
      const loc = await committedLocator(db, oid);
      const raw = loc.toBytes();
      await rejectsWithCode(db.openLocator(raw.subarray(0, 63)), 'HANDLERTON_INVALID_LOCATOR', '63 bytes');
      await rejectsWithCode(db.openLocator(new Uint8Array(0)), 'HANDLERTON_INVALID_LOCATOR', '0 bytes');
      const longer = new Uint8Array(65);
      longer.set(raw);
      await rejectsWithCode(db.openLocator(longer), 'HANDLERTON_INVALID_LOCATOR', '65 bytes');
      await rejectsWithCode(db.openLocator(loc.toString().slice(0, -4)), 'HANDLERTON_INVALID_LOCATOR', 'short string');
    },
  },
  {
    id: 'garbage-rejected',
    title: 'garbage strings and random bytes are rejected with InvalidLocatorError, never a crash',
    source: 'DESIGN Locator',
    rule: ['locator.ts#Locator.fromBytes', 'locator.ts#Locator.parse', 'database.ts#Database.openLocator'],
    run: async (ctx) => {
      const db = await ctx.database();
      for (const bad of ['', 'hello', 'hl1.', 'hl1.!!!!', 'hl2.AAAA', `hl1.${'A'.repeat(86)}`]) {
        await rejectsWithCode(db.openLocator(bad), 'HANDLERTON_INVALID_LOCATOR', JSON.stringify(bad));
      }
      for (let i = 0; i < 8; i++) {
        const random = new Uint8Array(64).map(() => ctx.randomInt(256));
        await rejectsWithCode(db.openLocator(random), 'HANDLERTON_INVALID_LOCATOR', 'random bytes');
      }
    },
  },
  {
    id: 'foreign-rejected',
    title: 'a validly signed locator of another database (other key, other database id) is rejected',
    source: 'DESIGN Locator',
    rule: ['locator.ts#LocatorCodec.verify'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'x');
      const mine = await committedLocator(db, oid);
      const otherKey = new Uint8Array(32).fill(7);
      const foreign = new LocatorCodec([otherKey], mine.databaseId).mint({
        access: mine.access, mode: mine.mode, handlertonId: mine.handlertonId, oid: mine.oid, blobId: mine.blobId, revision: mine.revision,
      });
      await rejectsWithCode(db.openLocator(foreign), 'HANDLERTON_INVALID_LOCATOR', 'signed with another key');
      const other = await ctx.extraEngines('other-db');
      const otherDb = await ctx.extraDatabase(other);
      const otherOid = await createBlobWith(otherDb, 'theirs');
      const theirs = await committedLocator(otherDb, otherOid);
      await rejectsWithCode(db.openLocator(theirs), 'HANDLERTON_INVALID_LOCATOR', "another database's locator");
      await rejectsWithCode(otherDb.openLocator(mine), 'HANDLERTON_INVALID_LOCATOR', 'ours in another database');
    },
  },
  {
    id: 'read-only-locator-cannot-write',
    title: 'a locator granting only read access cannot open the blob for writing',
    source: 'WL#3583 access',
    rule: ['database.ts#Transaction.openLocator', 'database.ts#Blob.locator'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'x');
      const ro = await committedLocator(db, oid);
      assert.deepEqual({ ...ro.access }, { read: true, write: false, append: false });
      await db.transaction(async (tx) => {
        await rejectsWithCode(tx.openLocator(ro, 'w'), ['HANDLERTON_INVALID_LOCATOR', 'HANDLERTON_READ_ONLY']);
        await rejectsWithCode(tx.openLocator(ro, 'r+'), ['HANDLERTON_INVALID_LOCATOR', 'HANDLERTON_READ_ONLY']);
      });
    },
  },
  {
    id: 'write-locator-in-transaction',
    title: 'a locator granting write access opens the blob for writing in a transaction',
    source: 'WL#3583 mysql_bl_open',
    rule: ['database.ts#Transaction.openLocator', 'database.ts#Blob.locator'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'before');
      const rw = await committedLocator(db, oid, { write: true });
      assert.equal(rw.access.write, true);
      await db.transaction(async (tx) => {
        const h = await tx.openLocator(rw.toString(), 'w');
        await h.write('after');
        await h.flush();
        await h.close();
      });
      assert.equal(await committedBlobText(db, oid), 'after');
    },
  },
  {
    id: 'locator-pins-revision',
    title: 'a locator names one revision: it reads that revision after the blob changed',
    source: 'DESIGN Locator',
    rule: ['locator.ts#invariants', 'database.ts#Database.openLocator'],
    requires: ['mode.dataTransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'revision one');
      const loc = await committedLocator(db, oid);
      await rewriteBlob(db, oid, 'revision two');
      assert.equal(await readLocator(db, loc), 'revision one');
      assert.ok((await committedLocator(db, oid)).revision > loc.revision);
    },
  },
  {
    id: 'seek-tell',
    title: "seek with 'start', 'current' and 'end' moves the position tell() reports",
    source: 'WL#3583 mysql_bl_seek',
    rule: ['database.ts#BlobHandle.seek', 'database.ts#BlobHandle.tell'],
    requires: ['blob.seek'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, '0123456789');
      const h = await db.openLocator(await committedLocator(db, oid));
      assert.equal(h.seek(4), 4);
      assert.equal(h.tell(), 4);
      assert.equal(new TextDecoder().decode(await h.read(2)), '45');
      assert.equal(h.seek(1, 'current'), 7);
      assert.equal(h.seek(-3, 'end'), 7);
      assert.equal(h.seek(0, 'end'), 10);
      assert.equal(h.seek(-2, 'current'), 8);
      assert.equal(new TextDecoder().decode(await h.read()), '89');
      throwsWithCode(() => h.seek(-1), 'HANDLERTON_INVALID_ARGUMENT', 'seek before the start');
      await h.close();
    },
  },
  {
    id: 'seek-not-supported',
    title: 'without seek, seek() raises NotSupportedError',
    source: 'WL#3583 mysql_bl_seek',
    rule: ['capabilities.ts#BlobCapabilities.seek', 'capabilities.ts#invariants'],
    unless: ['blob.seek'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, '0123456789');
      const h = await db.openLocator(await committedLocator(db, oid));
      throwsWithCode(() => h.seek(1), 'HANDLERTON_NOT_SUPPORTED');
      await h.close();
    },
  },
  {
    id: 'read-past-end',
    title: 'reads at or past the end return empty arrays; a read across the end returns the rest',
    source: 'WL#3583 mysql_bl_read',
    rule: ['database.ts#BlobHandle.read'],
    requires: ['blob.seek'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'abcdef');
      const h = await db.openLocator(await committedLocator(db, oid));
      h.seek(4);
      assert.equal(new TextDecoder().decode(await h.read(100)), 'ef');
      assert.equal((await h.read(10)).length, 0);
      h.seek(1000);
      assert.equal((await h.read(10)).length, 0);
      assert.equal(h.tell(), 1000, 'reading past the end does not move the position');
      assert.equal(h.size(), 6);
      await h.close();
    },
  },
  {
    id: 'seek-beyond-end-then-write',
    title: 'seeking beyond the end is allowed; a later write zero-fills the gap',
    source: 'WL#3583 mysql_bl_seek',
    rule: ['database.ts#BlobHandle.seek'],
    requires: ['blob.seek'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'ab');
      await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('r+');
        assert.equal(h.seek(5), 5);
        assert.equal(h.size(), 2, 'seeking does not grow the blob');
        await h.write('Z');
        assert.equal(h.size(), 6);
        await h.flush();
        await h.close();
      });
      const snap = await db.snapshot();
      const r = await (await snap.blob(oid)).open('r');
      assert.deepEqual(Array.from(await r.read(100)), [0x61, 0x62, 0, 0, 0, 0x5a]);
      await r.close();
      await snap.close();
    },
  },
  {
    id: 'truncate',
    title: 'truncate cuts or zero-extends; without an argument it cuts at the position',
    source: 'WL#3583 truncate',
    rule: ['database.ts#BlobHandle.truncate'],
    requires: ['blob.truncate', 'blob.seek'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, '0123456789');
      await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('r+');
        await h.truncate(8);
        assert.equal(h.size(), 8);
        h.seek(5);
        await h.truncate();
        assert.equal(h.size(), 5);
        await h.truncate(7);
        assert.equal(h.size(), 7);
        h.seek(0);
        assert.deepEqual(Array.from(await h.read(10)), [0x30, 0x31, 0x32, 0x33, 0x34, 0, 0]);
        await h.flush();
        await h.close();
      });
      assert.equal((await committedBlobText(db, oid)).length, 7);
    },
  },
  {
    id: 'truncate-not-supported',
    title: 'without truncate, truncate() raises NotSupportedError',
    source: 'WL#3583 truncate',
    rule: ['capabilities.ts#BlobCapabilities.truncate', 'capabilities.ts#invariants'],
    unless: ['blob.truncate'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, '0123');
      await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('r+');
        await rejectsWithCode(h.truncate(1), 'HANDLERTON_NOT_SUPPORTED');
        await h.close();
      });
    },
  },
  {
    id: 'read-handle-is-read-only',
    title: "writing through a handle opened with 'r' raises ReadOnlyError",
    source: 'BL-1',
    rule: ['database.ts#BlobHandle.write', 'database.ts#BlobHandle.close'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'x');
      const h = await db.openLocator(await committedLocator(db, oid));
      await rejectsWithCode(h.write('y'), 'HANDLERTON_READ_ONLY');
      await h.close();
      await rejectsWithCode(h.read(1), 'HANDLERTON_HANDLE_CLOSED', 'read after close');
    },
  },
  {
    id: 'refcount-records-and-handles',
    title: 'a revision\'s refcount is its record references plus open handles, and follows them as they come and go',
    source: 'WL#3583 mysql_bl_get_refcount',
    rule: ['blob-handlerton.ts#BlobHandlerton.refcount', 'capabilities.ts#BlobCapabilities.refcount'],
    requires: ['blob.refcount', 'mode.dataTransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'counted');
      const loc = await committedLocator(db, oid);
      const count = (): Promise<number> => ctx.blobs.refcount(loc.blobId, loc.revision);
      assert.equal(await count(), 1, 'one record references the revision');
      const h1 = await db.openLocator(loc);
      assert.equal(await count(), 2, 'plus one open reader');
      const h2 = await db.openLocator(loc);
      assert.equal(await count(), 3);
      await h1.close();
      assert.equal(await count(), 2);
      await h2.close();
      assert.equal(await count(), 1);
      assert.deepEqual(revisionOf(h2), { blobId: loc.blobId, revision: loc.revision });
    },
  },
  {
    id: 'data-transactional-mode',
    title: 'dataTransactional: flush does not publish, commit publishes and closes the handle',
    source: 'WL#3583 HTON_BLOB_DATA_TRANSACTIONAL',
    rule: ['capabilities.ts#BlobTransactionMode.dataTransactional', 'database.ts#BlobHandle.flush', 'database.ts#invariants'],
    requires: ['mode.dataTransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'v1');
      const before = db.lastTransaction();
      let handle: BlobHandle | undefined;
      await db.transaction(async (tx) => {
        handle = await (await tx.blob(oid)).open('w');
        await handle.write('v2');
        await handle.flush();
        assert.equal(await committedBlobText(db, oid), 'v1', 'not visible after flush');
      });
      assert.ok(db.lastTransaction() > before);
      assert.equal(handle?.open, false, 'commit implies close');
      assert.equal(await committedBlobText(db, oid), 'v2');
      assert.equal(Locator.from(handle!.locator).mode, 'dataTransactional');
    },
  },
  {
    id: 'transactional-mode',
    title: 'transactional: flush commits a new revision in the blob\'s own context; unflushed writes are discarded at close',
    source: 'WL#3583 HTON_BLOB_TRANSACTIONAL',
    rule: ['capabilities.ts#BlobTransactionMode.transactional', 'database.ts#BlobHandle.flush'],
    requires: ['mode.transactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'v1');
      const writer = db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('w');
        await h.write('v2');
        assert.equal(await committedBlobText(db, oid), 'v1', 'invisible before flush');
        await h.flush();
        assert.equal(await committedBlobText(db, oid), 'v2', 'visible to new readers after flush');
        await h.write(' unflushed');
        await h.close();
      });
      await writer;
      assert.equal(await committedBlobText(db, oid), 'v2');
    },
  },
  {
    id: 'nontransactional-mode',
    title: 'nontransactional: writes become visible to every reader at flush, and at close',
    source: 'WL#3583 HTON_BLOB_NONTRANSACTIONAL',
    rule: ['capabilities.ts#BlobTransactionMode.nontransactional', 'database.ts#BlobHandle.flush'],
    requires: ['mode.nontransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'v1');
      await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('w');
        await h.write('v2');
        await h.flush();
        assert.equal(await committedBlobText(db, oid), 'v2', 'visible at flush');
        await h.write('+');
        await h.close();
        assert.equal(await committedBlobText(db, oid), 'v2+', 'visible at close');
      });
    },
  },
  {
    id: 'non-data-transactional-survives-abort',
    title: 'transactional and nontransactional: a flushed revision stays committed when the enclosing transaction aborts',
    source: 'WL#3583 mysql_bl_commit',
    rule: ['capabilities.ts#BlobTransactionMode.transactional', 'capabilities.ts#BlobTransactionMode.nontransactional'],
    unless: ['mode.dataTransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'v1');
      await assert.rejects(
        db.transaction(async (tx) => {
          const h = await (await tx.blob(oid)).open('w');
          await h.write('flushed');
          await h.flush();
          throw new Error('abort');
        }),
      );
      assert.equal(await committedBlobText(db, oid), 'flushed');
    },
  },
  {
    id: 'write-advances-position',
    title: "write advances the position by the bytes written; in 'a' mode every write goes to the end",
    source: 'WL#3583 mysql_bl_write',
    rule: ['database.ts#BlobHandle.write'],
    requires: ['blob.seek', 'blob.append'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'abcdef');
      await db.transaction(async (tx) => {
        const blob = await tx.blob(oid);
        const h = await blob.open('r+');
        assert.equal(await h.write('XY'), 2);
        assert.equal(h.tell(), 2);
        h.seek(1, 'end');
        assert.equal(h.tell(), 7);
        await h.flush();
        await h.close();
        const a = await blob.open('a');
        a.seek(0);
        await a.write('!');
        assert.equal(a.size(), 7);
        await a.flush();
        await a.close();
      });
      assert.equal(await committedBlobText(db, oid), 'XYcdef!');
    },
  },
  {
    id: 'append-locator',
    title: "a locator granting append access opens with 'a' but not with 'w'",
    source: 'WL#3583 access',
    rule: ['database.ts#Transaction.openLocator', 'database.ts#Blob.locator'],
    requires: ['blob.append'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'log:');
      const loc = await committedLocator(db, oid, { append: true });
      assert.deepEqual({ ...loc.access }, { read: true, write: false, append: true });
      await db.transaction(async (tx) => {
        await rejectsWithCode(tx.openLocator(loc, 'w'), ['HANDLERTON_INVALID_LOCATOR', 'HANDLERTON_READ_ONLY'], "open('w')");
        const h = await tx.openLocator(loc, 'a');
        await h.write(' entry');
        await h.flush();
        await h.close();
      });
      assert.equal(await committedBlobText(db, oid), 'log: entry');
    },
  },
]);
