/** Regression tests for defects found by reviewing the framework runtime (each reproduces one scenario). */
import test from 'ava';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobLockedError, copyTransactions, createDatabase, StorageIOError, TransactionClosedError, type BlobTransaction } from '@handlerton/framework';
import { MemoryBlobHandlerton, MemoryStorage } from '../src/index.js';
import { dec, enc, memoryDb, readAll } from './database-helpers.js';

/** A memory database whose blob handlerton can delay or fail its commit, and records rollbacks. */
async function instrumented(mode?: 'transactional' | 'nontransactional') {
  const blobs = new MemoryBlobHandlerton(mode === undefined ? {} : { mode });
  const control = { delayCommitMs: 0, failCommit: false, rollbacks: 0, commits: 0 };
  const commit = blobs.commit.bind(blobs);
  const rollback = blobs.rollback.bind(blobs);
  blobs.commit = async (txn: BlobTransaction) => {
    if (control.delayCommitMs > 0) await new Promise((resolve) => setTimeout(resolve, control.delayCommitMs));
    if (control.failCommit) throw new Error('injected blob commit failure');
    control.commits++;
    return commit(txn);
  };
  blobs.rollback = async (txn: BlobTransaction) => {
    control.rollbacks++;
    return rollback(txn);
  };
  const db = await createDatabase({ storage: new MemoryStorage(), blobs });
  return { db, blobs, control };
}

async function blobWith(db: Awaited<ReturnType<typeof memoryDb>>, text: string): Promise<bigint> {
  return db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    await (await blob.open('w')).write(text);
    await tx.write(0n, enc('root'), { refs: [blob.oid] });
    return blob.oid;
  });
}

test('close waits for a commit under way instead of dropping its prepared blob data', async (t) => {
  const { db, control } = await instrumented();
  const oid = await blobWith(db, 'v1');
  control.delayCommitMs = 30;
  const committing = db.transaction(async (tx) => void (await (await (await tx.blob(oid)).open('w')).write('v2')));
  await new Promise((resolve) => setTimeout(resolve, 5));
  await db.close();
  await t.notThrowsAsync(committing);
  t.is(control.commits, 2);
});

test('a blob commit failing after the storage committed is reported typed and never rolls the revision back', async (t) => {
  const { db, control } = await instrumented();
  const oid = await blobWith(db, 'v1');
  control.failCommit = true;
  const before = control.rollbacks;
  const tx = db.begin();
  await (await (await tx.blob(oid)).open('w')).write('v2');
  const error = await t.throwsAsync(tx.commit(), { instanceOf: StorageIOError });
  t.regex(error?.message ?? '', /committed, but its blob revisions could not be published/);
  t.is(control.rollbacks, before, 'the prepared blob transaction is left for recover()');
  t.false(tx.active);
  await db.close().catch(() => undefined);
});

test('concurrent blob(oid) calls share one blob, so concurrent opens keep the lock rule', async (t) => {
  const db = await memoryDb();
  const oid = await blobWith(db, 'x');
  const tx = db.begin();
  const [b1, b2] = await Promise.all([tx.blob(oid), tx.blob(oid)]);
  t.is(b1, b2);
  const results = await Promise.allSettled([b1.open('w'), b2.open('w'), b1.open('r')]);
  t.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') t.true(r.reason instanceof BlobLockedError);
  await tx.abort();
  await db.close();
});

test('an open racing abort yields an ended handle, not a live one on a finished transaction', async (t) => {
  const db = await memoryDb();
  const oid = await blobWith(db, 'x');
  const tx = db.begin();
  const blob = await tx.blob(oid);
  const opening = blob.open('w');
  await tx.abort();
  const handle = await opening;
  t.false(handle.open);
  await t.throwsAsync(handle.write('y'), { instanceOf: TransactionClosedError });
  await db.close();
});

test("open('a') waits for a revision whose commit is still publishing", async (t) => {
  const { db, control } = await instrumented();
  const oid = await blobWith(db, 'v1');
  control.delayCommitMs = 40;
  const before = db.lastTransaction();
  const committing = db.transaction(async (tx) => void (await (await (await tx.blob(oid)).open('w')).write('v2')));
  while (db.lastTransaction() === before) await new Promise((resolve) => setImmediate(resolve));
  control.delayCommitMs = 0;
  await db.transaction(async (tx) => {
    const appender = await (await tx.blob(oid)).open('a');
    t.is(appender.size(), 2);
    await appender.write('+v3');
  });
  await committing;
  const snap = await db.snapshot();
  t.is(await readAll(await (await snap.blob(oid)).open('r')), 'v2+v3');
  await snap.close();
  await db.close();
});

test('nontransactional: concurrent flushes keep exactly the latest revision; GC and pack reclaim it', async (t) => {
  const { db, blobs } = await instrumented('nontransactional');
  const oid = await blobWith(db, 'start');
  const t1 = db.begin();
  const t2 = db.begin();
  const h1 = await (await t1.blob(oid)).open('w');
  const h2 = await (await t2.blob(oid)).open('w');
  await h1.write('one');
  await h2.write('two');
  await Promise.all([h1.flush(), h2.flush()]);
  await h1.close();
  await h2.close();
  await t1.abort();
  await t2.abort();
  await blobs.reclaim();
  t.is(blobs.usage().revisions, 1);
  await db.transaction(async (tx) => tx.write(0n, enc('root without the blob'), { refs: [] }));
  t.is((await db.collectGarbage({ keep: 0 })).deleted, 1);
  await db.pack();
  t.is(blobs.usage().revisions, 0);
  await db.close();
});

test('copyTransactions refuses handlertons whose records name no revision', async (t) => {
  const source = await memoryDb('nontransactional');
  await blobWith(source, 'data');
  const destination = await memoryDb();
  await t.throwsAsync(copyTransactions(source, destination), { code: 'HANDLERTON_NOT_SUPPORTED' });
  await source.close();
  await destination.close();
});

test('deleting a blob object written in the same transaction deletes it', async (t) => {
  const db = await memoryDb();
  const oid = await blobWith(db, 'x');
  await db.transaction(async (tx) => {
    const w = await (await tx.blob(oid)).open('w');
    await w.write('rewritten');
    await tx.delete(oid);
    t.false(w.open);
    await t.throwsAsync(tx.blob(oid), { code: 'HANDLERTON_POS_KEY' });
  });
  const snap = await db.snapshot();
  t.is(await snap.tryRead(oid), undefined);
  await snap.close();
  const created = db.begin();
  const blob = await created.createBlob();
  await (await blob.open('w')).write('never');
  await created.delete(blob.oid);
  await created.commit();
  const after = await db.snapshot();
  t.is(await after.tryRead(blob.oid), undefined);
  await after.close();
  await db.close();
});

test('a snapshot asked for a future tid stays at the last commit', async (t) => {
  const db = await memoryDb();
  const oid = await db.transaction(async (tx) => tx.create(enc('r')));
  const snap = await db.snapshot(db.lastTransaction() + (1000n << 20n));
  await db.transaction(async (tx) => tx.write(oid, enc('changed later')));
  t.is(dec((await snap.read(oid)).data), 'r');
  await snap.close();
  await db.close();
});

test('handle operations run in call order; streams validate their options and modes', async (t) => {
  const db = await memoryDb();
  await db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    const w = await blob.open('w');
    await Promise.all([w.write('AAAA'), w.write('BBBB')]);
    t.is(w.size(), 8);
    t.is(w.tell(), 8);
    t.throws(() => w.createReadStream(), { code: 'HANDLERTON_INVALID_ARGUMENT' });
    await w.close();
    const r = await blob.open('r');
    t.throws(() => r.createReadStream({ highWaterMark: 0 }), { code: 'HANDLERTON_INVALID_ARGUMENT' });
    t.is(dec(await r.read()), 'AAAABBBB');
  });
  await db.close();
});

test("transactional mode: pipeline() into a write stream stores the data (the stream's end flushes)", async (t) => {
  const db = await memoryDb('transactional');
  const oid = await db.transaction(async (tx) => (await tx.createBlob()).oid);
  await db.transaction(async (tx) => {
    const w = await (await tx.blob(oid)).open('w');
    await pipeline(Readable.from([Buffer.from('streamed '), Buffer.from('upload')]), w.createWriteStream());
    await w.close();
  });
  const snap = await db.snapshot();
  t.is(await readAll(await (await snap.blob(oid)).open('r')), 'streamed upload');
  await snap.close();
  await db.close();
});

test('a reader that outlived its transaction is closed with the database', async (t) => {
  const db = await memoryDb();
  const oid = await blobWith(db, 'kept open');
  const reader = await db.transaction(async (tx) => (await tx.blob(oid)).open('r'));
  t.true(reader.open, 'a reader of committed data survives its transaction');
  await db.close();
  t.false(reader.open);
  await t.throwsAsync(reader.read(), { code: 'HANDLERTON_HANDLE_CLOSED' });
});
