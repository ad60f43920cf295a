/** DESIGN.md "Blob semantics" through the Database API, one case per rule at least (BL-n). */
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import type { BlobHandle, Database, Oid, Transaction } from '@handlerton/framework';
import { rejectsWithCode, throwsWithCode } from '../util/assert-code.js';
import { patternChunk, patternSha, readHandleText } from '../util/blob-io.js';
import { blobText, committedBlobText, createBlobWith, rewriteBlob } from '../util/db-blobs.js';
import type { CaseSpec } from './define.js';

const enc = new TextEncoder();

/** A transaction kept open by the case, committed or aborted when the case says so. */
interface OpenTransaction {
  readonly tx: Transaction;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Starts a Database transaction that stays active until the case commits or aborts it. */
async function openTransaction(db: Database): Promise<OpenTransaction> {
  let finish!: (commit: boolean) => void;
  let txReady!: (tx: Transaction) => void;
  const ready = new Promise<Transaction>((r) => (txReady = r));
  const decided = new Promise<boolean>((r) => (finish = r));
  const done = db
    .transaction(async (tx) => {
      txReady(tx);
      if (!(await decided)) throw new Error('abort requested by the case');
    })
    .catch((e: unknown) => {
      if (!(e instanceof Error && e.message === 'abort requested by the case')) throw e;
    });
  done.catch(() => undefined); // awaited by commit() / abort()
  const tx = await ready;
  return {
    tx,
    commit: async () => {
      finish(true);
      await done;
    },
    abort: async () => {
      finish(false);
      await done;
    },
  };
}

export const dbBlobCases: readonly CaseSpec[] = [
  {
    id: 'read-committed',
    title: "open('r') on a freshly loaded blob reads the committed data",
    source: 'BL-4',
    rule: ['database.ts#invariants', 'database.ts#Blob.open'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'committed bytes');
      assert.equal(await committedBlobText(db, oid), 'committed bytes');
      assert.equal(await db.transaction((tx) => blobText(tx, oid)), 'committed bytes');
    },
  },
  {
    id: 'read-never-written',
    title: "open('r') on a blob that was never written reads zero bytes",
    source: 'BL-4',
    rule: ['database.ts#Transaction.createBlob'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction(async (tx) => (await tx.createBlob()).oid);
      assert.equal(await committedBlobText(db, oid), '');
    },
  },
  {
    id: 'write-starts-empty',
    title: "the first open('w') in a transaction starts new, empty uncommitted data",
    source: 'BL-4',
    rule: ['database.ts#invariants'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'old contents');
      await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('w');
        assert.equal(h.size(), 0);
        assert.equal(h.tell(), 0);
        await h.write('new');
        await h.flush();
        await h.close();
      });
      assert.equal(await committedBlobText(db, oid), 'new');
    },
  },
  {
    id: 'append-starts-from-committed',
    title: "open('a') starts from the committed data and writes at its end",
    source: 'BL-4',
    rule: ['database.ts#invariants', 'database.ts#BlobHandle.write'],
    requires: ['blob.append'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'abc');
      await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('a');
        assert.equal(h.size(), 3);
        await h.write('def');
        await h.flush();
        await h.close();
      });
      assert.equal(await committedBlobText(db, oid), 'abcdef');
    },
  },
  {
    id: 'append-not-supported',
    title: "without append, open('a') raises NotSupportedError",
    source: 'BL-1',
    rule: ['capabilities.ts#BlobCapabilities.append', 'capabilities.ts#invariants'],
    unless: ['blob.append'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'abc');
      await db.transaction(async (tx) => {
        await rejectsWithCode((await tx.blob(oid)).open('a'), 'HANDLERTON_NOT_SUPPORTED');
      });
    },
  },
  {
    id: 'rplus-starts-from-committed',
    title: "open('r+') starts from the committed data at offset 0 and overwrites in place",
    source: 'BL-4',
    rule: ['database.ts#invariants'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'abcdef');
      await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('r+');
        assert.equal(h.tell(), 0);
        assert.equal(h.size(), 6);
        await h.write('XY');
        assert.equal(await readHandleText(h), 'cdef', 'r+ reads the rest of the committed data');
        await h.flush();
        await h.close();
      });
      assert.equal(await committedBlobText(db, oid), 'XYcdef');
    },
  },
  {
    id: 'later-opens-see-uncommitted',
    title: 'once uncommitted data exists, every later open in the transaction sees it',
    source: 'DESIGN Blob semantics',
    rule: ['database.ts#invariants'],
    requires: ['mode.dataTransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'committed');
      await db.transaction(async (tx) => {
        const blob = await tx.blob(oid);
        const w = await blob.open('w');
        await w.write('draft');
        await w.close();
        assert.equal(await blobText(tx, oid), 'draft', "open('r') sees the draft");
        const rp = await blob.open('r+');
        assert.equal(await readHandleText(rp), 'draft', "open('r+') continues from the draft");
        await rp.close();
        if (db.capabilities.blobs.append) {
          const a = await blob.open('a');
          await a.write('+more');
          await a.close();
        }
      });
      assert.equal(await committedBlobText(db, oid), db.capabilities.blobs.append ? 'draft+more' : 'draft');
    },
  },
  {
    id: 'many-readers',
    title: 'one blob can have many readers open at once',
    source: 'BL-2',
    rule: ['database.ts#invariants'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'shared');
      await db.transaction(async (tx) => {
        const blob = await tx.blob(oid);
        const readers = await Promise.all(Array.from({ length: 5 }, () => blob.open('r')));
        for (const r of readers) assert.equal(await readHandleText(r), 'shared');
        await Promise.all(readers.map((r) => r.close()));
      });
    },
  },
  {
    id: 'writer-excludes-readers',
    title: 'while a reader is open, open for writing raises BlobLockedError (any writable mode)',
    source: 'BL-2',
    rule: ['database.ts#invariants'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'x');
      await db.transaction(async (tx) => {
        const blob = await tx.blob(oid);
        const r = await blob.open('r');
        await rejectsWithCode(blob.open('w'), 'HANDLERTON_BLOB_LOCKED', "open('w')");
        await rejectsWithCode(blob.open('r+'), 'HANDLERTON_BLOB_LOCKED', "open('r+')");
        await r.close();
        const w = await blob.open('w');
        await w.close();
      });
    },
  },
  {
    id: 'reader-excluded-by-writer',
    title: 'while a writer is open, open for reading or a second writer raises BlobLockedError',
    source: 'BL-2',
    rule: ['database.ts#invariants'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'x');
      await db.transaction(async (tx) => {
        const blob = await tx.blob(oid);
        const w = await blob.open('w');
        await rejectsWithCode(blob.open('r'), 'HANDLERTON_BLOB_LOCKED', "open('r')");
        await rejectsWithCode(blob.open('w'), 'HANDLERTON_BLOB_LOCKED', "second open('w')");
        await w.close();
        const r = await blob.open('r');
        await r.close();
      });
    },
  },
  {
    id: 'invalid-mode',
    title: 'an unknown open mode raises InvalidArgumentError',
    source: 'BL-1',
    rule: ['database.ts#Blob.open'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'x');
      await db.transaction(async (tx) => {
        const blob = await tx.blob(oid);
        for (const mode of ['c', 'rw', '', 'W']) {
          await rejectsWithCode(blob.open(mode as 'r'), 'HANDLERTON_INVALID_ARGUMENT', `open(${JSON.stringify(mode)})`);
        }
      });
    },
  },
  {
    id: 'commit-closes-writer',
    title: 'commit closes a writable handle: using it afterwards raises TransactionClosedError',
    source: 'DESIGN Blob semantics',
    rule: ['database.ts#invariants', 'database.ts#BlobHandle.open'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'x');
      const handle = await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('w');
        await h.write('y');
        await h.flush();
        return h;
      });
      assert.equal(handle.open, false);
      await rejectsWithCode(handle.write('bleed'), 'HANDLERTON_TRANSACTION_CLOSED', 'write after commit');
      throwsWithCode(() => handle.tell(), 'HANDLERTON_TRANSACTION_CLOSED', 'tell after commit');
      assert.equal(await committedBlobText(db, oid), 'y');
    },
  },
  {
    id: 'abort-closes-writer',
    title: 'abort closes a writable handle and discards its data: later use raises TransactionClosedError',
    source: 'BL-8',
    rule: ['database.ts#invariants'],
    requires: ['mode.dataTransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'kept');
      let handle: BlobHandle | undefined;
      await assert.rejects(
        db.transaction(async (tx) => {
          handle = await (await tx.blob(oid)).open('w');
          await handle.write('discarded');
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.ok(handle !== undefined);
      await rejectsWithCode(handle.write('bleed'), 'HANDLERTON_TRANSACTION_CLOSED');
      assert.equal(await committedBlobText(db, oid), 'kept');
    },
  },
  {
    id: 'no-bleed-into-next-transaction',
    title: "a handle from one transaction cannot change the next: the next transaction sees only committed data",
    source: 'DESIGN Blob semantics',
    rule: ['database.ts#invariants'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'one');
      const stale = await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('w');
        await h.write('two');
        await h.flush();
        return h;
      });
      await db.transaction(async (tx) => {
        await rejectsWithCode(stale.write('three'), 'HANDLERTON_TRANSACTION_CLOSED');
        assert.equal(await blobText(tx, oid), 'two');
      });
      assert.equal(await committedBlobText(db, oid), 'two');
    },
  },
  {
    id: 'uncommitted-invisible',
    title: 'uncommitted (unflushed) blob data is invisible to other transactions and snapshots',
    source: 'DESIGN Blob semantics',
    rule: ['database.ts#invariants'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'committed');
      const writer = await openTransaction(db);
      const h = await (await writer.tx.blob(oid)).open('w');
      await h.write('uncommitted');
      assert.equal(await committedBlobText(db, oid), 'committed', 'a snapshot sees committed data');
      assert.equal(await db.transaction((tx) => blobText(tx, oid)), 'committed', 'another transaction sees committed data');
      await h.close();
      await writer.abort();
    },
  },
  {
    id: 'uncommitted-invisible-until-commit',
    title: 'data-transactional: even flushed data is invisible to others until the storage transaction commits',
    source: 'WL#3583 DATA_TRANSACTIONAL',
    rule: ['capabilities.ts#BlobTransactionMode.dataTransactional', 'database.ts#BlobHandle.flush'],
    requires: ['mode.dataTransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'committed');
      const writer = await openTransaction(db);
      const h = await (await writer.tx.blob(oid)).open('w');
      await h.write('flushed');
      await h.flush();
      assert.equal(await committedBlobText(db, oid), 'committed');
      await writer.commit();
      assert.equal(await committedBlobText(db, oid), 'flushed');
    },
  },
  {
    id: 'reader-keeps-revision-after-commit',
    title: 'a reader that opened a revision keeps reading it after a newer revision commits',
    source: 'BL-9',
    rule: ['database.ts#invariants'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'first revision');
      const snap = await db.snapshot();
      const r = await (await snap.blob(oid)).open('r');
      const head = await r.read(6);
      await rewriteBlob(db, oid, 'second revision!');
      assert.equal(new TextDecoder().decode(head) + (await readHandleText(r)), 'first revision');
      await r.close();
      await snap.close();
      assert.equal(await committedBlobText(db, oid), 'second revision!');
    },
  },
  {
    id: 'snapshot-reads-its-revision',
    title: 'a snapshot opened before a blob change reads the old revision even when opened after the change',
    source: 'BL-9',
    rule: ['database.ts#invariants', 'database.ts#ReadView.tid'],
    requires: ['mode.dataTransactional', 'mvcc'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'v1');
      const snap = await db.snapshot();
      await rewriteBlob(db, oid, 'v2');
      assert.equal(await blobText(snap, oid), 'v1');
      await snap.close();
    },
  },
  {
    id: 'snapshot-blob-read-only',
    title: 'opening a blob for writing in a snapshot raises ReadOnlyError',
    source: 'API-4',
    rule: ['database.ts#Snapshot'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'x');
      const snap = await db.snapshot();
      await rejectsWithCode((await snap.blob(oid)).open('w'), 'HANDLERTON_READ_ONLY');
      await snap.close();
    },
  },
  {
    id: 'blob-of-non-blob',
    title: 'blob(oid) of an ordinary record raises InvalidArgumentError; of a missing oid POSKeyError',
    source: 'API-26',
    rule: ['database.ts#ReadView.blob'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(enc.encode('plain')));
      const snap = await db.snapshot();
      await rejectsWithCode(snap.blob(oid), 'HANDLERTON_INVALID_ARGUMENT');
      await rejectsWithCode(snap.blob(oid + 1000n), 'HANDLERTON_POS_KEY');
      await snap.close();
    },
  },
  {
    id: 'created-blob-aborted',
    title: 'a blob created in an aborted transaction does not exist afterwards',
    source: 'BL-8',
    rule: ['database.ts#Transaction.abort', 'database.ts#Transaction.createBlob', 'database.ts#ReadView.blob'],
    run: async (ctx) => {
      const db = await ctx.database();
      let oid: Oid | undefined;
      await assert.rejects(
        db.transaction(async (tx) => {
          const blob = await tx.createBlob();
          oid = blob.oid;
          const h = await blob.open('w');
          await h.write('ghost');
          throw new Error('abort');
        }),
      );
      const snap = await db.snapshot();
      await rejectsWithCode(snap.blob(oid!), 'HANDLERTON_POS_KEY');
      await snap.close();
    },
  },
  {
    id: 'streams-roundtrip',
    title: 'a few MiB piped through createWriteStream and back through createReadStream round-trip exactly',
    source: 'DESIGN Blob semantics',
    rule: ['database.ts#BlobHandle.createWriteStream', 'database.ts#BlobHandle.createReadStream'],
    run: async (ctx) => {
      const db = await ctx.database();
      const chunk = 128 * 1024;
      const count = 24;
      const oid = await db.transaction(async (tx) => {
        const blob = await tx.createBlob();
        const h = await blob.open('w');
        await pipeline(Readable.from((function* () { for (let i = 0; i < count; i++) yield Buffer.from(patternChunk(11, i, chunk)); })()), h.createWriteStream());
        await h.flush();
        await h.close();
        return blob.oid;
      });
      const snap = await db.snapshot();
      const r = await (await snap.blob(oid)).open('r');
      assert.equal(r.size(), chunk * count);
      const hash = createHash('sha256');
      let size = 0;
      await pipeline(
        r.createReadStream({ highWaterMark: 64 * 1024 }),
        new Writable({
          write(data: Buffer, _e, cb) {
            hash.update(data);
            size += data.length;
            cb();
          },
        }),
      );
      assert.equal(size, chunk * count);
      assert.equal(hash.digest('hex'), patternSha(11, count, chunk));
      await r.close();
      await snap.close();
    },
  },
  {
    id: 'read-stream-range',
    title: 'createReadStream({start, end}) yields exactly bytes [start, end)',
    source: 'DESIGN BlobHandle',
    rule: ['database.ts#BlobHandle.createReadStream'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, '0123456789abcdef');
      const snap = await db.snapshot();
      const r = await (await snap.blob(oid)).open('r');
      const parts: Buffer[] = [];
      for await (const part of r.createReadStream({ start: 3, end: 9 })) parts.push(part as Buffer);
      assert.equal(Buffer.concat(parts).toString(), '345678');
      const tail: Buffer[] = [];
      for await (const part of r.createReadStream({ start: 12 })) tail.push(part as Buffer);
      assert.equal(Buffer.concat(tail).toString(), 'cdef');
      await r.close();
      await snap.close();
    },
  },
  {
    id: 'concurrent-blob-writers-conflict',
    title: 'two transactions writing the same blob: the first commit wins, the second gets ConflictError',
    source: 'BL-9',
    rule: ['database.ts#invariants', 'database.ts#Transaction.commit'],
    requires: ['mode.dataTransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'base');
      const slow = await openTransaction(db);
      const h = await (await slow.tx.blob(oid)).open('w');
      await h.write('slow');
      await rewriteBlob(db, oid, 'fast');
      await rejectsWithCode(slow.commit(), 'HANDLERTON_CONFLICT');
      assert.equal(await committedBlobText(db, oid), 'fast');
    },
  },
  {
    id: 'async-dispose-closes',
    title: 'Symbol.asyncDispose closes a handle (await using), and close is idempotent',
    source: 'DESIGN BlobHandle',
    rule: ['database.ts#BlobHandle.close'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'x');
      const snap = await db.snapshot();
      const r = await (await snap.blob(oid)).open('r');
      await r[Symbol.asyncDispose]();
      assert.equal(r.open, false);
      await r.close();
      await rejectsWithCode(r.read(1), 'HANDLERTON_HANDLE_CLOSED');
      await snap.close();
    },
  },
  {
    id: 'reader-survives-transaction-end',
    title: 'a reader of committed blob data opened in a transaction keeps reading after the transaction ends',
    source: 'BL-8',
    rule: ['database.ts#invariants'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'committed reader');
      const reader = await db.transaction(async (tx) => {
        const r = await (await tx.blob(oid)).open('r');
        await r.read(3);
        return r;
      });
      assert.equal(await readHandleText(reader), 'mitted reader');
      await reader.close();
    },
  },
  {
    id: 'snapshot-close-ends-handles',
    title: 'closing a snapshot ends its blob handles: later use raises TransactionClosedError',
    source: 'DESIGN Blob semantics',
    rule: ['database.ts#Snapshot.close'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'x');
      const snap = await db.snapshot();
      const r = await (await snap.blob(oid)).open('r');
      await snap.close();
      await rejectsWithCode(r.read(1), 'HANDLERTON_TRANSACTION_CLOSED');
      await rejectsWithCode(snap.blob(oid), 'HANDLERTON_TRANSACTION_CLOSED', 'the snapshot itself is closed');
    },
  },
  {
    id: 'writable-open-without-write',
    title: "opening a blob with 'r+' and closing it without writing leaves its committed data unchanged",
    source: 'BL-5',
    rule: ['database.ts#invariants'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'untouched');
      await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('r+');
        await h.flush();
        await h.close();
      });
      assert.equal(await committedBlobText(db, oid), 'untouched');
    },
  },
  {
    id: 'many-blobs-one-transaction',
    title: 'a transaction creating and writing 50 blobs commits them all',
    source: 'T116',
    rule: ['database.ts#Transaction.createBlob', 'database.ts#Transaction.commit'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oids = await db.transaction(async (tx) => {
        const out: Oid[] = [];
        for (let i = 0; i < 50; i++) {
          const blob = await tx.createBlob();
          const h = await blob.open('w');
          await h.write(`blob number ${i}`);
          await h.flush();
          await h.close();
          out.push(blob.oid);
        }
        return out;
      });
      const snap = await db.snapshot();
      for (const [i, oid] of oids.entries()) assert.equal(await blobText(snap, oid), `blob number ${i}`);
      await snap.close();
    },
  },
  {
    id: 'reader-survives-delete',
    title: "a reader keeps reading its revision after the blob's object is deleted",
    source: 'DESIGN Blob semantics',
    rule: ['database.ts#invariants'],
    requires: ['externalGC'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'still readable');
      const snap = await db.snapshot();
      const r = await (await snap.blob(oid)).open('r');
      await db.transaction((tx) => tx.delete(oid));
      assert.equal(await readHandleText(r), 'still readable');
      await r.close();
      await snap.close();
    },
  },
  {
    id: 'commit-without-flush',
    title: 'data-transactional: data written but never flushed or closed is committed with the transaction',
    source: 'WL#3583 HTON_BLOB_DATA_TRANSACTIONAL',
    rule: ['capabilities.ts#BlobTransactionMode.dataTransactional'],
    requires: ['mode.dataTransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await createBlobWith(db, 'before');
      await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('w');
        await h.write('written, never flushed');
      });
      assert.equal(await committedBlobText(db, oid), 'written, never flushed');
    },
  },
];
