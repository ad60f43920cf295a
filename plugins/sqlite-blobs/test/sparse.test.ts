/** Huge and sparse blobs: MAX_BLOB_SIZE on the raw API, zero-extension without rows, drops that never hang. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { blobTransaction, CorruptionError, createDatabase, InvalidArgumentError, MAX_BLOB_SIZE } from '@handlerton/framework';
import { roleFile } from '../src/connection.js';
import { SqliteBlobs, SqliteStorage } from '../src/index.js';
import { MAX_CHAIN_DEPTH } from '../src/sqlite-blobs.js';
import { openBlobs, pattern } from './helpers.js';

const CHUNK = 64 * 1024;

function rows(blobs: SqliteBlobs, table: 'chunk' | 'revision_chunk' | 'revision_hole' | 'blob_revision'): number {
  return Number((blobs.connection.db.prepare(`select count(*) as n from ${table}`).get() as { n: bigint }).n);
}

async function readAt(read: (target: Uint8Array, position: number) => Promise<number>, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  const n = await read(out, position);
  return out.subarray(0, n);
}

test('raw drafts refuse a write ending past MAX_BLOB_SIZE (also past 2^53) and a truncate beyond it, changing nothing', async (t) => {
  const { blobs } = await openBlobs(t);
  const blobId = await blobs.createBlob();
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, null);
  await draft.write(pattern(100, 1), 0);
  const before = rows(blobs, 'chunk');
  await t.throwsAsync(draft.write(new Uint8Array(16), 2 ** 53 - 8), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(draft.write(new Uint8Array(2), MAX_BLOB_SIZE - 1), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(draft.write(new Uint8Array(0), MAX_BLOB_SIZE + 1), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(draft.truncate(MAX_BLOB_SIZE + 1), { instanceOf: InvalidArgumentError });
  t.is(draft.size(), 100);
  t.is(rows(blobs, 'chunk'), before);
  t.is(rows(blobs, 'revision_hole'), 0);
  t.deepEqual(await readAt((b, p) => draft.read(b, p), 0, 200), pattern(100, 1));
  // After refused writes the draft still works, and the transaction still ends.
  await draft.write(Uint8Array.of(7), 100);
  await blobs.rollback(txn);
  t.is(rows(blobs, 'chunk'), 0);
});

test('a byte written at the last position of the maximum size: exact size, zeros before it, and rollback returns', async (t) => {
  const { blobs } = await openBlobs(t);
  const blobId = await blobs.createBlob();
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, null);
  await draft.write(Uint8Array.of(1, 2, 3), 0);
  await draft.write(Uint8Array.of(0xee), MAX_BLOB_SIZE - 1);
  t.is(draft.size(), MAX_BLOB_SIZE);
  t.deepEqual(await readAt((b, p) => draft.read(b, p), MAX_BLOB_SIZE - 4, 10), Uint8Array.of(0, 0, 0, 0xee));
  t.deepEqual(await readAt((b, p) => draft.read(b, p), 2 ** 40, 4), new Uint8Array(4));
  await blobs.prepare(txn, 900n);
  t.is(rows(blobs, 'chunk'), 2, 'two stored chunks, nothing for the 2^48 bytes between');
  // Before the fix, dropping walked every chunk number up to 2^32 in batches of 64: it never returned.
  await blobs.rollback(txn);
  t.deepEqual([rows(blobs, 'chunk'), rows(blobs, 'revision_chunk'), rows(blobs, 'blob_revision')], [0, 0, 0]);
  t.is(rows(blobs, 'revision_hole'), 0);
});

test('truncate(2^40) stores no chunk, reads zeros near the end, commits, and is reclaimed', async (t) => {
  const { blobs } = await openBlobs(t, { chunkSize: CHUNK });
  const blobId = await blobs.createBlob();
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, null);
  await draft.write(pattern(1000, 2), 0);
  await draft.truncate(2 ** 40);
  t.deepEqual(await readAt((b, p) => draft.read(b, p), 2 ** 40 - 5, 100), new Uint8Array(5));
  await blobs.prepare(txn, 1000n);
  await blobs.commit(txn);
  t.is(rows(blobs, 'chunk'), 1);
  const reader = await blobs.openRevision(blobId, 1000n);
  t.is(reader.size, 2 ** 40);
  t.deepEqual(await readAt((b, p) => reader.read(b, p), 2 ** 40 - 3, 3), new Uint8Array(3));
  t.deepEqual(await readAt((b, p) => reader.read(b, p), 990, 20), new Uint8Array([...pattern(1000, 2).subarray(990), ...new Uint8Array(10)]));
  await reader.close();
  t.is(rows(blobs, 'revision_hole'), 1);
  t.is((await blobs.reclaim()).revisions, 1);
  t.deepEqual([rows(blobs, 'chunk'), rows(blobs, 'revision_chunk'), rows(blobs, 'revision_hole')], [0, 0, 0]);
});

test('a recorded hole reads as zeros, but a stored chunk that went missing is CorruptionError', async (t) => {
  const { blobs, options } = await openBlobs(t, { chunkSize: CHUNK });
  const blobId = await blobs.createBlob();
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, null);
  await draft.write(pattern(10, 3), 0);
  await draft.write(pattern(10, 4), 5 * CHUNK + 7); // chunks 1..4 skipped: a hole, no rows
  await blobs.prepare(txn, 1100n);
  await blobs.commit(txn);
  t.is(rows(blobs, 'chunk'), 2);
  const reader = await blobs.openRevision(blobId, 1100n);
  t.deepEqual(await readAt((b, p) => reader.read(b, p), 3 * CHUNK, 8), new Uint8Array(8));
  t.deepEqual(await readAt((b, p) => reader.read(b, p), 5 * CHUNK + 7, 10), pattern(10, 4));
  await reader.close();
  const raw = new Database(roleFile(options.location, 'blobs'), { timeout: 2000 });
  t.teardown(() => raw.close());
  raw.prepare('delete from revision_chunk where seq = 5').run();
  const again = await blobs.openRevision(blobId, 1100n);
  t.teardown(() => again.close());
  t.deepEqual(await readAt((b, p) => again.read(b, p), 2 * CHUNK, 8), new Uint8Array(8));
  await t.throwsAsync(again.read(new Uint8Array(4), 5 * CHUNK), { instanceOf: CorruptionError });
});

test('a draft on a base: truncate down then up shows zeros above the cut, and the base stays intact', async (t) => {
  const { blobs } = await openBlobs(t, { chunkSize: CHUNK });
  const blobId = await blobs.createBlob();
  const base = pattern(4 * CHUNK, 5);
  let txn = blobTransaction();
  let draft = await blobs.createDraft(txn, blobId, 1n, null);
  await draft.write(base, 0);
  await blobs.prepare(txn, 1200n);
  await blobs.commit(txn);
  txn = blobTransaction();
  draft = await blobs.createDraft(txn, blobId, 1n, 1200n);
  await draft.truncate(CHUNK + 100);
  await draft.truncate(6 * CHUNK);
  await blobs.prepare(txn, 1201n);
  await blobs.commit(txn);
  const reader = await blobs.openRevision(blobId, 1201n);
  t.teardown(() => reader.close());
  t.deepEqual(await readAt((b, p) => reader.read(b, p), CHUNK + 90, 20), new Uint8Array([...base.subarray(CHUNK + 90, CHUNK + 100), ...new Uint8Array(10)]));
  t.deepEqual(await readAt((b, p) => reader.read(b, p), 3 * CHUNK, 16), new Uint8Array(16));
  t.deepEqual(await readAt((b, p) => reader.read(b, p), 6 * CHUNK - 4, 16), new Uint8Array(4));
  const old = await blobs.openRevision(blobId, 1200n);
  t.teardown(() => old.close());
  t.deepEqual(await readAt((b, p) => old.read(b, p), 3 * CHUNK, 16), base.subarray(3 * CHUNK, 3 * CHUNK + 16));
});

test('holes survive the flattening of a deep chain of drafts', async (t) => {
  const { blobs } = await openBlobs(t, { chunkSize: CHUNK });
  const blobId = await blobs.createBlob();
  let base: bigint | null = null;
  // Each revision appends a marker one chunk further out after a one-chunk hole.
  for (let i = 0; i <= MAX_CHAIN_DEPTH + 2; i++) {
    const txn = blobTransaction();
    const draft = await blobs.createDraft(txn, blobId, 1n, base);
    await draft.write(Uint8Array.of(i + 1), 2 * i * CHUNK + 1);
    base = 2000n + BigInt(i);
    await blobs.prepare(txn, base);
    await blobs.commit(txn);
  }
  const reader = await blobs.openRevision(blobId, base!);
  t.teardown(() => reader.close());
  for (let i = 0; i <= MAX_CHAIN_DEPTH + 2; i++) {
    t.deepEqual(await readAt((b, p) => reader.read(b, p), 2 * i * CHUNK, 2), Uint8Array.of(0, i + 1));
    if (i > 0) t.deepEqual(await readAt((b, p) => reader.read(b, p), (2 * i - 1) * CHUNK, 2), new Uint8Array(2));
  }
});

test('through a Database: a write past 2^53 or at the maximum size leaves tx.abort() returning and nothing stored', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sqlite-huge-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const options = { location: join(dir, 'db.sqlite'), synchronous: 'full' as const, chunkSize: 256 * 1024, busyTimeoutMs: 2000, readOnly: false };
  const blobs = await SqliteBlobs.open(options);
  const db = await createDatabase({ storage: await SqliteStorage.open(options), blobs });
  t.teardown(() => db.close());
  const tx = db.begin();
  const blob = await tx.createBlob();
  const handle = await blob.open('w');
  await handle.write('head');
  handle.seek(2 ** 53 - 2);
  await t.throwsAsync(handle.write('past 2^53'), { instanceOf: InvalidArgumentError });
  handle.seek(MAX_BLOB_SIZE - 1);
  await handle.write('z');
  // Before the fix, this truncate and the abort walked ~2^30 chunk numbers 64 at a time: they never returned.
  await handle.truncate(2 ** 40);
  await tx.abort();
  t.false(tx.active);
  t.is(rows(blobs, 'chunk'), 0);
  const tx2 = db.begin();
  const other = await tx2.createBlob();
  const h2 = await other.open('w');
  await h2.write('after');
  await tx2.write(0n, new TextEncoder().encode('root'), { refs: [other.oid] });
  await tx2.commit();
  const snap = await db.snapshot();
  t.teardown(() => snap.close());
  const reader = await (await snap.blob(other.oid)).open('r');
  t.is(new TextDecoder().decode(await reader.read()), 'after');
});
