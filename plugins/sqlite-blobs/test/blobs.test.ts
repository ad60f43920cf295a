import test from 'ava';
import { blobTransaction, type BlobHandlerton, type BlobRef } from '@handlerton/framework';
import { SqliteBlobs } from '../src/index.js';
import { openBlobs, pattern } from './helpers.js';

const ref = (blobId: bigint, revision: bigint): BlobRef => ({ handlerton: 'sqlite-blobs', blobId, revision });

async function readAll(blobs: BlobHandlerton, blobId: bigint, revision: bigint): Promise<Uint8Array> {
  const reader = await blobs.openRevision(blobId, revision);
  const out = new Uint8Array(reader.size);
  let at = 0;
  while (at < out.length) at += await reader.read(out.subarray(at, Math.min(out.length, at + 50_000)), at);
  await reader.close();
  return out;
}

async function commitBlob(blobs: BlobHandlerton, blobId: bigint, tid: bigint, data: Uint8Array, base: bigint | null = null, withRef = true): Promise<void> {
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, base);
  await draft.truncate(0);
  await draft.write(data, 0);
  if (withRef) await blobs.addReferences(txn, [ref(blobId, tid)]);
  await blobs.prepare(txn, tid);
  await blobs.commit(txn);
}

function countRows(blobs: SqliteBlobs, table: 'chunk' | 'revision_chunk' | 'blob_revision'): number {
  return Number((blobs.connection.db.prepare(`select count(*) as n from ${table}`).get() as { n: bigint }).n);
}

test('a draft is written, prepared, committed and read back', async (t) => {
  const { blobs } = await openBlobs(t);
  const blobId = await blobs.createBlob();
  t.is(await blobs.latestRevision(blobId), null);
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 7n, null);
  const data = pattern(200_000, 1);
  await draft.write(data.subarray(0, 1000), 0);
  await draft.write(data.subarray(1000), 1000);
  t.is(draft.size(), 200_000);
  const back = new Uint8Array(5000);
  t.is(await draft.read(back, 64 * 1024 - 2500), 5000);
  t.deepEqual(back, data.subarray(64 * 1024 - 2500, 64 * 1024 + 2500));
  t.is(await draft.read(back, 300_000), 0);
  await blobs.prepare(txn, 100n);
  await t.throwsAsync(blobs.openRevision(blobId, 100n), { code: 'HANDLERTON_POS_KEY' }, 'prepared is not visible');
  t.is(await blobs.latestRevision(blobId), null);
  await blobs.commit(txn);
  t.is(await blobs.latestRevision(blobId), 100n);
  t.deepEqual(await readAll(blobs, blobId, 100n), data);
  t.throws(() => draft.size(), { code: 'HANDLERTON_TRANSACTION_CLOSED' });
  await t.throwsAsync(draft.write(new Uint8Array(1), 0), { code: 'HANDLERTON_TRANSACTION_CLOSED' });
});

test('drafts are private and rollback leaves no trace (before and after prepare)', async (t) => {
  const { blobs } = await openBlobs(t);
  const blobId = await blobs.createBlob();
  await commitBlob(blobs, blobId, 10n, pattern(100_000, 2));
  const chunks = countRows(blobs, 'chunk');
  const rows = countRows(blobs, 'blob_revision');
  const a = blobTransaction();
  const draft = await blobs.createDraft(a, blobId, 1n, 10n);
  await draft.write(pattern(300_000, 3), 50_000);
  await draft.truncate(10);
  await draft.write(new Uint8Array(70_000).fill(9), 0);
  t.deepEqual(await readAll(blobs, blobId, 10n), pattern(100_000, 2), 'committed revision unchanged');
  await blobs.rollback(a);
  await blobs.rollback(a);
  t.is(countRows(blobs, 'chunk'), chunks);
  t.is(countRows(blobs, 'blob_revision'), rows);
  const b = blobTransaction();
  const d2 = await blobs.createDraft(b, blobId, 1n, null);
  await d2.write(pattern(150_000, 4), 0);
  await blobs.prepare(b, 20n);
  await blobs.rollback(b);
  await t.throwsAsync(blobs.openRevision(blobId, 20n), { code: 'HANDLERTON_POS_KEY' });
  t.is(countRows(blobs, 'chunk'), chunks);
  t.is(await blobs.latestRevision(blobId), 10n);
  await t.notThrowsAsync(blobs.rollback(blobTransaction()));
});

test('a second createDraft replaces the first; a missing base is POSKeyError', async (t) => {
  const { blobs } = await openBlobs(t);
  const blobId = await blobs.createBlob();
  const txn = blobTransaction();
  const first = await blobs.createDraft(txn, blobId, 1n, null);
  await first.write(pattern(100_000, 5), 0);
  const second = await blobs.createDraft(txn, blobId, 1n, null);
  t.is(second.size(), 0);
  t.throws(() => first.size(), { code: 'HANDLERTON_TRANSACTION_CLOSED' });
  await second.write(new Uint8Array([1, 2, 3]), 0);
  await blobs.prepare(txn, 5n);
  await blobs.commit(txn);
  t.deepEqual(await readAll(blobs, blobId, 5n), new Uint8Array([1, 2, 3]));
  t.is(countRows(blobs, 'chunk'), 1);
  await t.throwsAsync(blobs.createDraft(blobTransaction(), blobId, 1n, 4n), { code: 'HANDLERTON_POS_KEY' });
});

test('partial update (r+): a 4 KiB write into a 16 MiB blob adds at most 2 chunks and shares the rest', async (t) => {
  const { blobs } = await openBlobs(t, { chunkSize: 256 * 1024 });
  const blobId = await blobs.createBlob();
  const size = 16 * 1024 * 1024;
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, null);
  for (let at = 0; at < size; at += 1024 * 1024) await draft.write(pattern(1024 * 1024, at / 1024 / 1024), at);
  await blobs.addReferences(txn, [ref(blobId, 1n)]);
  await blobs.prepare(txn, 1n);
  await blobs.commit(txn);
  const before = countRows(blobs, 'chunk');
  t.is(before, 64);
  const update = blobTransaction();
  const started = performance.now();
  const d2 = await blobs.createDraft(update, blobId, 1n, 1n);
  t.is(d2.size(), size);
  const patch = new Uint8Array(4096).fill(0xab);
  const at = 5 * 1024 * 1024 + 1000;
  await d2.write(patch, at);
  await blobs.addReferences(update, [ref(blobId, 2n)]);
  await blobs.prepare(update, 2n);
  await blobs.commit(update);
  const elapsed = performance.now() - started;
  const after = countRows(blobs, 'chunk');
  t.log(`r+ 4 KiB into 16 MiB: ${after - before} new chunk(s), createDraft..commit ${elapsed.toFixed(1)} ms`);
  t.true(after - before <= 2);
  const reader = await blobs.openRevision(blobId, 2n);
  const window = new Uint8Array(8192);
  await reader.read(window, at - 2048);
  t.deepEqual(window.subarray(2048, 2048 + 4096), patch);
  const baseWindow = new Uint8Array(8192);
  const base = await blobs.openRevision(blobId, 1n);
  await base.read(baseWindow, at - 2048);
  await base.close();
  t.deepEqual(window.subarray(0, 2048), baseWindow.subarray(0, 2048));
  t.deepEqual(window.subarray(2048 + 4096), baseWindow.subarray(2048 + 4096));
  const tail = new Uint8Array(1024);
  await reader.read(tail, size - 1024);
  t.deepEqual(tail, pattern(1024 * 1024, 15).subarray(1024 * 1024 - 1024));
  await reader.close();
  const old = new Uint8Array(4096);
  const r1 = await blobs.openRevision(blobId, 1n);
  await r1.read(old, at);
  await r1.close();
  t.deepEqual(old, pattern(1024 * 1024, 5).subarray(1000, 1000 + 4096), 'the base revision is unchanged');
});

test('append and truncate on a draft based on a revision', async (t) => {
  const { blobs } = await openBlobs(t);
  const blobId = await blobs.createBlob();
  await commitBlob(blobs, blobId, 1n, pattern(100_000, 6));
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, 1n);
  await draft.write(new Uint8Array([7, 7, 7]), draft.size());
  t.is(draft.size(), 100_003);
  await draft.truncate(70_000);
  await draft.truncate(140_000);
  await draft.write(new Uint8Array([5]), 200_000);
  await blobs.prepare(txn, 2n);
  await blobs.commit(txn);
  const data = await readAll(blobs, blobId, 2n);
  t.is(data.length, 200_001);
  t.deepEqual(data.subarray(0, 70_000), pattern(100_000, 6).subarray(0, 70_000));
  t.true(data.subarray(70_000, 200_000).every((b) => b === 0), 'cut bytes read back as zeros');
  t.is(data[200_000], 5);
  t.deepEqual(await readAll(blobs, blobId, 1n), pattern(100_000, 6));
});

test('refcounts: references count at commit, release at once; reclaim removes unreferenced revisions and unshared chunks', async (t) => {
  const { blobs } = await openBlobs(t);
  const blobId = await blobs.createBlob();
  await commitBlob(blobs, blobId, 1n, pattern(200_000, 7));
  t.is(await blobs.refcount(blobId, 1n), 1);
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, 1n);
  await draft.write(new Uint8Array(10).fill(1), 0);
  await blobs.addReferences(txn, [ref(blobId, 2n), ref(blobId, 1n), { handlerton: 'other', blobId, revision: 1n }]);
  await blobs.prepare(txn, 2n);
  t.is(await blobs.refcount(blobId, 1n), 1, 'references count only at commit');
  await blobs.commit(txn);
  t.is(await blobs.refcount(blobId, 1n), 2);
  t.is(await blobs.refcount(blobId, 2n), 1);
  t.is(await blobs.refcount(blobId, 99n), 0);
  t.is((await blobs.reclaim()).revisions, 0);
  await blobs.releaseReferences([ref(blobId, 1n), ref(blobId, 1n), ref(blobId, 42n)]);
  t.is(await blobs.refcount(blobId, 1n), 0);
  const chunksBefore = countRows(blobs, 'chunk');
  t.is((await blobs.reclaim()).revisions, 1);
  await t.throwsAsync(blobs.openRevision(blobId, 1n), { code: 'HANDLERTON_POS_KEY' });
  t.is(await blobs.refcount(blobId, 1n), 0);
  t.is(await blobs.latestRevision(blobId), 2n);
  t.is(countRows(blobs, 'chunk'), chunksBefore, 'revision 2 still reads the unchanged chunks through revision 1');
  const data = await readAll(blobs, blobId, 2n);
  t.deepEqual(data.subarray(10), pattern(200_000, 7).subarray(10));
  await blobs.releaseReferences([ref(blobId, 2n)]);
  t.is((await blobs.reclaim()).revisions, 1);
  t.is(countRows(blobs, 'chunk'), 0, 'the retired base goes with its last dependent');
  t.is(countRows(blobs, 'revision_chunk'), 0);
  t.is(countRows(blobs, 'blob_revision'), 0);
});

test('long chains of partial updates stay correct (flattened past the depth bound), with truncates and reclaim', async (t) => {
  const { blobs } = await openBlobs(t, { chunkSize: 4096 });
  const blobId = await blobs.createBlob();
  const size = 40 * 4096;
  const model = pattern(size, 11);
  await commitBlob(blobs, blobId, 1n, model);
  let current: Uint8Array = model.slice();
  for (let rev = 2n; rev <= 14n; rev++) {
    const txn = blobTransaction();
    const draft = await blobs.createDraft(txn, blobId, 1n, rev - 1n);
    const at = Number(rev) * 3000;
    const patch = new Uint8Array(5000).fill(Number(rev));
    await draft.write(patch, at);
    const next = new Uint8Array(Math.max(current.length, at + patch.length));
    next.set(current);
    next.set(patch, at);
    current = next;
    if (rev === 6n) {
      await draft.truncate(50_001);
      await draft.truncate(70_000);
      const cut = new Uint8Array(70_000);
      cut.set(current.subarray(0, 50_001));
      current = cut;
    }
    await blobs.addReferences(txn, [ref(blobId, rev)]);
    await blobs.prepare(txn, rev);
    await blobs.commit(txn);
    await blobs.releaseReferences([ref(blobId, rev - 1n)]);
    if (rev % 3n === 0n) await blobs.reclaim();
    t.deepEqual(await readAll(blobs, blobId, rev), current, `revision ${rev}`);
  }
  const depths = blobs.connection.db.prepare('select max(depth) as d from blob_revision').get() as { d: bigint };
  t.true(Number(depths.d) <= 8);
  await blobs.releaseReferences([ref(blobId, 14n)]);
  await blobs.reclaim();
  t.is(countRows(blobs, 'chunk'), 0);
  t.is(countRows(blobs, 'blob_revision'), 0);
});

test('a reader keeps working after its revision is released and reclaimed; closing it lets the revision go', async (t) => {
  const { blobs } = await openBlobs(t);
  const blobId = await blobs.createBlob();
  const data = pattern(300_000, 8);
  await commitBlob(blobs, blobId, 1n, data);
  const reader = await blobs.openRevision(blobId, 1n);
  t.is(await blobs.refcount(blobId, 1n), 2);
  await blobs.releaseReferences([ref(blobId, 1n)]);
  t.is(await blobs.refcount(blobId, 1n), 1);
  t.is((await blobs.reclaim()).revisions, 0, 'deferred while a reader is open');
  const out = new Uint8Array(reader.size);
  t.is(await reader.read(out, 0), data.length);
  t.deepEqual(out, data);
  await reader.close();
  await reader.close();
  t.is(await blobs.refcount(blobId, 1n), 0);
  t.is((await blobs.reclaim()).revisions, 1);
  await t.throwsAsync(reader.read(out, 0), { code: 'HANDLERTON_HANDLE_CLOSED' });
});

test('committed blobs survive reopen; unprepared drafts do not', async (t) => {
  const { blobs, options } = await openBlobs(t);
  const blobId = await blobs.createBlob();
  const data = pattern(250_000, 9);
  await commitBlob(blobs, blobId, 3n, data);
  const pending = blobTransaction();
  const draft = await blobs.createDraft(pending, blobId, 1n, 3n);
  await draft.write(new Uint8Array(100_000), 0);
  await blobs.close();
  await blobs.close();
  const again = await SqliteBlobs.open(options);
  t.teardown(() => again.close());
  t.deepEqual(await readAll(again, blobId, 3n), data);
  t.is(await again.refcount(blobId, 3n), 1);
  t.is(await again.latestRevision(blobId), 3n);
  const next = await again.createBlob();
  t.true(next > blobId);
  t.is(countRows(again, 'blob_revision'), 1);
});

test('concurrent reads of one revision reader each get their own bytes', async (t) => {
  const { blobs } = await openBlobs(t, { chunkSize: 4096 });
  const id = await blobs.createBlob();
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, id, 1n, null);
  const data = new Uint8Array(64 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i >> 12) + 1;
  await draft.write(data, 0);
  await blobs.prepare(txn, 9n);
  await blobs.commit(txn);
  const reader = await blobs.openRevision(id, 9n);
  t.teardown(() => reader.close());
  const targets = Array.from({ length: 16 }, () => new Uint8Array(4096));
  await Promise.all(targets.map((target, i) => reader.read(target, ((i * 7) % 16) * 4096)));
  targets.forEach((target, i) => t.true(target.every((b) => b === ((i * 7) % 16) + 1), `read ${i}`));
});
