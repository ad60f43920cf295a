import test from 'ava';
import {
  blobTransaction,
  HandleClosedError,
  POSKeyError,
  StorageClosedError,
  StorageTransactionError,
  TransactionClosedError,
} from '@handlerton/framework';
import type { BlobId, BlobRef, Tid } from '@handlerton/framework';
import { MemoryBlobHandlerton } from '../src/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function ref(blobId: BlobId, revision: Tid): BlobRef {
  return { handlerton: 'memory', blobId, revision };
}

/** Commits `bytes` as revision `tid` of `blobId` (new, or based on `base`), referenced once unless told otherwise. */
async function commitBlob(
  h: MemoryBlobHandlerton, blobId: BlobId, tid: Tid, bytes: Uint8Array, base: Tid | null = null, referenced = true,
): Promise<void> {
  const txn = blobTransaction();
  const draft = await h.createDraft(txn, blobId, 1n, base);
  await draft.write(bytes, 0);
  if (referenced) await h.addReferences(txn, [ref(blobId, tid)]);
  await h.prepare(txn, tid);
  await h.commit(txn);
}

async function readAll(h: MemoryBlobHandlerton, blobId: BlobId, tid: Tid): Promise<Uint8Array> {
  const reader = await h.openRevision(blobId, tid);
  const out = new Uint8Array(reader.size);
  t_assert(await reader.read(out, 0) === reader.size);
  await reader.close();
  return out;
}

function t_assert(ok: boolean): void {
  if (!ok) throw new Error('short read');
}

function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

test('capabilities follow the mode option; the default mode is dataTransactional', (t) => {
  t.like(new MemoryBlobHandlerton().capabilities, {
    mode: 'dataTransactional', seek: true, truncate: true, append: true, refcount: true, partialUpdate: true, durable: false,
  });
  for (const mode of ['transactional', 'nontransactional', 'dataTransactional'] as const) {
    t.is(new MemoryBlobHandlerton({ mode }).capabilities.mode, mode);
  }
});

test('a committed draft becomes a readable revision; drafts are invisible until commit', async (t) => {
  const h = new MemoryBlobHandlerton({ chunkSize: 16 });
  const id = await h.createBlob();
  t.is(await h.latestRevision(id), null);
  const txn = blobTransaction();
  const draft = await h.createDraft(txn, id, 5n, null);
  await draft.write(pattern(100), 0);
  t.is(draft.size(), 100);
  await h.addReferences(txn, [ref(id, 10n)]);
  await h.prepare(txn, 10n);
  t.is(await h.latestRevision(id), null);
  await t.throwsAsync(h.openRevision(id, 10n), { instanceOf: POSKeyError });
  await h.commit(txn);
  t.is(await h.latestRevision(id), 10n);
  t.deepEqual(await readAll(h, id, 10n), pattern(100));
  await t.throwsAsync(draft.write(pattern(1), 0), { instanceOf: TransactionClosedError });
});

test('drafts are private per transaction, even when based on the same revision', async (t) => {
  const h = new MemoryBlobHandlerton({ chunkSize: 16 });
  const id = await h.createBlob();
  await commitBlob(h, id, 1n, pattern(40));
  const t1 = blobTransaction();
  const t2 = blobTransaction();
  const d1 = await h.createDraft(t1, id, 1n, 1n);
  const d2 = await h.createDraft(t2, id, 1n, 1n);
  await d1.write(new Uint8Array([1, 2, 3]), 10);
  const seen = new Uint8Array(3);
  await d2.read(seen, 10);
  t.deepEqual(seen, pattern(40).subarray(10, 13));
  await h.rollback(t1);
  await h.rollback(t2);
  t.deepEqual(await readAll(h, id, 1n), pattern(40));
});

test('writing 4 KiB into a 4 MiB revision allocates one chunk (copy-on-write)', async (t) => {
  const h = new MemoryBlobHandlerton({ chunkSize: 64 * KiB });
  const id = await h.createBlob();
  const original = pattern(4 * MiB);
  await commitBlob(h, id, 1n, original);
  t.like(h.usage(), { revisions: 1, chunks: 64, bytes: 4 * MiB });
  const txn = blobTransaction();
  const draft = await h.createDraft(txn, id, 1n, 1n);
  await draft.write(new Uint8Array(4 * KiB).fill(0xee), MiB + 100);
  t.like(h.usage(), { chunks: 65, bytes: 4 * MiB + 64 * KiB });
  await h.addReferences(txn, [ref(id, 2n)]);
  await h.prepare(txn, 2n);
  await h.commit(txn);
  t.like(h.usage(), { revisions: 2, chunks: 65, bytes: 4 * MiB + 64 * KiB });
  t.true(Buffer.from(await readAll(h, id, 1n)).equals(original), 'the base revision is unchanged');
  const expected = Uint8Array.from(original);
  expected.fill(0xee, MiB + 100, MiB + 100 + 4 * KiB);
  t.true(Buffer.from(await readAll(h, id, 2n)).equals(expected));
});

test('a small blob holds only its bytes, not a whole chunk', async (t) => {
  const h = new MemoryBlobHandlerton({ chunkSize: 64 * KiB });
  await commitBlob(h, await h.createBlob(), 1n, pattern(10));
  t.like(h.usage(), { chunks: 1, bytes: 10 });
});

test('reads copy only the requested range and return 0 at or past the end', async (t) => {
  const h = new MemoryBlobHandlerton({ chunkSize: 16 });
  const id = await h.createBlob();
  await commitBlob(h, id, 1n, pattern(50));
  const reader = await h.openRevision(id, 1n);
  const part = new Uint8Array(20);
  t.is(await reader.read(part, 10), 20);
  t.deepEqual(part, pattern(50).subarray(10, 30));
  t.is(await reader.read(part, 40), 10);
  t.deepEqual(part.subarray(0, 10), pattern(50).subarray(40, 50));
  t.is(await reader.read(part, 50), 0);
  t.is(await reader.read(part, 500), 0);
  await reader.close();
  await reader.close();
  await t.throwsAsync(reader.read(part, 0), { instanceOf: HandleClosedError });
});

test('writing past the end zero-fills; truncate cuts and zero-extends, also over shared chunks', async (t) => {
  const h = new MemoryBlobHandlerton({ chunkSize: 16 });
  const id = await h.createBlob();
  await commitBlob(h, id, 1n, pattern(40));
  const txn = blobTransaction();
  const draft = await h.createDraft(txn, id, 1n, 1n);
  await draft.truncate(20);
  await draft.truncate(36);
  await draft.write(new Uint8Array([9]), 60);
  t.is(draft.size(), 61);
  const out = new Uint8Array(61);
  t.is(await draft.read(out, 0), 61);
  const expected = new Uint8Array(61);
  expected.set(pattern(40).subarray(0, 20));
  expected[60] = 9;
  t.deepEqual(out, expected);
  await draft.write(pattern(8), 62);
  await draft.truncate(62);
  await draft.truncate(70);
  const tail = new Uint8Array(10);
  await draft.read(tail, 60);
  t.deepEqual(tail, new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  await draft.truncate(0);
  t.is(draft.size(), 0);
  await h.prepare(txn, 2n);
  await h.commit(txn);
  t.is((await h.openRevision(id, 2n)).size, 0);
  t.deepEqual(await readAll(h, id, 1n), pattern(40));
});

test('rollback discards drafts, prepared or not, and ignores unknown transactions', async (t) => {
  const h = new MemoryBlobHandlerton({ chunkSize: 16 });
  const id = await h.createBlob();
  const txn = blobTransaction();
  const draft = await h.createDraft(txn, id, 1n, null);
  await draft.write(pattern(30), 0);
  await h.rollback(txn);
  await t.throwsAsync(draft.read(new Uint8Array(1), 0), { instanceOf: TransactionClosedError });
  const prepared = blobTransaction();
  await (await h.createDraft(prepared, id, 1n, null)).write(pattern(30), 0);
  await h.prepare(prepared, 3n);
  await h.rollback(prepared);
  await h.rollback(prepared);
  await h.rollback(blobTransaction());
  t.is(await h.latestRevision(id), null);
  t.like(h.usage(), { revisions: 0, chunks: 0 });
});

test('refcount counts record references and open readers; the last reader reclaims an unreferenced revision', async (t) => {
  const h = new MemoryBlobHandlerton({ chunkSize: 16 });
  const id = await h.createBlob();
  await commitBlob(h, id, 1n, pattern(20));
  t.is(await h.refcount(id, 1n), 1);
  const reader = await h.openRevision(id, 1n);
  t.is(await h.refcount(id, 1n), 2);
  await h.releaseReferences([ref(id, 1n), ref(id, 99n), { handlerton: 'other', blobId: id, revision: 1n }]);
  t.is(await h.refcount(id, 1n), 1);
  t.is((await h.reclaim()).revisions, 0, 'an open reader keeps it');
  const out = new Uint8Array(20);
  await reader.read(out, 0);
  t.deepEqual(out, pattern(20));
  await reader.close();
  t.is(await h.refcount(id, 1n), 0);
  await t.throwsAsync(h.openRevision(id, 1n), { instanceOf: POSKeyError });
  t.is(await h.latestRevision(id), null);
});

test('reclaim removes committed revisions nothing references', async (t) => {
  const h = new MemoryBlobHandlerton({ chunkSize: 16 });
  const a = await h.createBlob();
  const b = await h.createBlob();
  await commitBlob(h, a, 1n, pattern(20), null, false);
  await commitBlob(h, b, 1n, pattern(20));
  await commitBlob(h, b, 2n, pattern(20, 2), 1n);
  await h.releaseReferences([ref(b, 1n)]);
  t.is(await h.refcount(b, 1n), 0);
  t.truthy(await h.openRevision(b, 1n).then((r) => r.close().then(() => r)));
  t.is((await h.reclaim()).revisions, 1, 'closing the reader already removed b@1; a@1 is left');
  t.is((await h.reclaim()).revisions, 0);
  t.is(await h.latestRevision(a), null);
  t.is(await h.latestRevision(b), 2n);
  t.is(await h.refcount(b, 2n), 1);
});

test('a revision referenced by a prepared transaction survives reclaim until commit counts it', async (t) => {
  const h = new MemoryBlobHandlerton({ chunkSize: 16 });
  const id = await h.createBlob();
  await commitBlob(h, id, 1n, pattern(20));
  const txn = blobTransaction();
  await h.addReferences(txn, [ref(id, 1n)]);
  await h.prepare(txn, 5n);
  await h.releaseReferences([ref(id, 1n)]);
  t.is((await h.reclaim()).revisions, 0);
  await h.commit(txn);
  t.is(await h.refcount(id, 1n), 1);
});

test('prepare checks references; 2PC out of order raises StorageTransactionError', async (t) => {
  const h = new MemoryBlobHandlerton({ chunkSize: 16 });
  const id = await h.createBlob();
  const missing = blobTransaction();
  await (await h.createDraft(missing, id, 1n, null)).write(pattern(4), 0);
  await h.addReferences(missing, [ref(id, 42n)]);
  await t.throwsAsync(h.prepare(missing, 7n), { instanceOf: POSKeyError });
  await h.rollback(missing);
  await t.throwsAsync(h.createDraft(blobTransaction(), id, 1n, 99n), { instanceOf: POSKeyError });
  const txn = blobTransaction();
  await h.createDraft(txn, id, 1n, null);
  await t.throwsAsync(h.commit(txn), { instanceOf: StorageTransactionError });
  await h.prepare(txn, 7n);
  await t.throwsAsync(h.prepare(txn, 8n), { instanceOf: StorageTransactionError });
  await t.throwsAsync(h.addReferences(txn, []), { instanceOf: StorageTransactionError });
  await t.throwsAsync(h.createDraft(txn, id, 1n, null), { instanceOf: StorageTransactionError });
  await h.commit(txn);
  await h.commit(blobTransaction());
  t.is(await h.latestRevision(id), 7n);
});

test('a second draft of the same blob in a transaction replaces the first', async (t) => {
  const h = new MemoryBlobHandlerton({ chunkSize: 16 });
  const id = await h.createBlob();
  const txn = blobTransaction();
  const first = await h.createDraft(txn, id, 1n, null);
  await first.write(pattern(5), 0);
  const second = await h.createDraft(txn, id, 1n, null);
  await second.write(pattern(3, 9), 0);
  await t.throwsAsync(first.write(pattern(1), 0), { instanceOf: TransactionClosedError });
  await h.addReferences(txn, [ref(id, 2n)]);
  await h.prepare(txn, 2n);
  await h.commit(txn);
  t.deepEqual(await readAll(h, id, 2n), pattern(3, 9));
});

test('after close, calls raise StorageClosedError and drafts are closed', async (t) => {
  const h = new MemoryBlobHandlerton();
  const id = await h.createBlob();
  const draft = await h.createDraft(blobTransaction(), id, 1n, null);
  await h.close();
  await h.close();
  await t.throwsAsync(h.createBlob(), { instanceOf: StorageClosedError });
  await t.throwsAsync(h.openRevision(id, 1n), { instanceOf: StorageClosedError });
  await t.throwsAsync(h.reclaim(), { instanceOf: StorageClosedError });
  await t.throwsAsync(draft.write(pattern(1), 0), { instanceOf: TransactionClosedError });
  await h.rollback(blobTransaction());
});
