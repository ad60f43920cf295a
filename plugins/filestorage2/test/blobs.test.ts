import * as fs from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import type { ExecutionContext } from 'ava';
import {
  blobTransaction,
  HandleClosedError,
  InvalidArgumentError,
  InvalidConfigError,
  POSKeyError,
  silentLogger,
  StorageClosedError,
  StorageLockedError,
  StorageTransactionError,
  systemClock,
  TransactionClosedError,
} from '@handlerton/framework';
import type { BlobId, BlobRef, EngineContext, Tid } from '@handlerton/framework';
import { FileStorage2Blobs } from '../src/blobs/index.js';

const CHUNK = 4096;
const context: EngineContext = { clock: systemClock, logger: silentLogger, fs };

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fs2-blobs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openStore(t: ExecutionContext, dir?: string): Promise<FileStorage2Blobs> {
  const store = await FileStorage2Blobs.open({ dir: dir ?? (await tempDir(t)), syncMode: 'always', chunkSize: CHUNK }, context);
  t.teardown(() => store.close());
  return store;
}

function ref(blobId: BlobId, revision: Tid): BlobRef {
  return { handlerton: 'filestorage2', blobId, revision };
}

function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return out;
}

async function commitBlob(
  store: FileStorage2Blobs,
  blobId: BlobId,
  tid: Tid,
  bytes: Uint8Array,
  options: { base?: Tid; at?: number; referenced?: boolean } = {},
): Promise<void> {
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 7n, options.base ?? null);
  await draft.write(bytes, options.at ?? 0);
  if (options.referenced !== false) await store.addReferences(txn, [ref(blobId, tid)]);
  await store.prepare(txn, tid);
  await store.commit(txn);
}

async function readAll(store: FileStorage2Blobs, blobId: BlobId, tid: Tid): Promise<Uint8Array> {
  const reader = await store.openRevision(blobId, tid);
  try {
    const out = new Uint8Array(reader.size);
    let at = 0;
    while (at < out.length) {
      const n = await reader.read(out.subarray(at, at + 3000), at);
      if (n === 0) break;
      at += n;
    }
    return out;
  } finally {
    await reader.close();
  }
}

test('manifest: dataTransactional, durable, with partial update', (t) => {
  t.deepEqual({ ...FileStorage2Blobs.capabilities }, {
    mode: 'dataTransactional',
    seek: true,
    truncate: true,
    append: true,
    refcount: true,
    partialUpdate: true,
    durable: true,
  });
});

test('bad options are InvalidConfigError naming the option', async (t) => {
  const dir = await tempDir(t);
  const bad = { dir, syncMode: 'sometimes' } as unknown as Parameters<typeof FileStorage2Blobs.open>[0];
  const error = await t.throwsAsync(FileStorage2Blobs.open(bad, context), { instanceOf: InvalidConfigError });
  t.is(error?.option, 'syncMode');
});

test('blob ids are fresh and unknown ids are POSKeyError', async (t) => {
  const store = await openStore(t);
  const a = await store.createBlob();
  const b = await store.createBlob();
  t.not(a, b);
  t.is(await store.latestRevision(a), null);
  await t.throwsAsync(store.openRevision(a, 5n), { instanceOf: POSKeyError });
  await t.throwsAsync(store.createDraft(blobTransaction(), 999_999n, 1n, null), { instanceOf: POSKeyError });
  await t.throwsAsync(store.createDraft(blobTransaction(), a, 1n, 5n), { instanceOf: POSKeyError });
  await t.throwsAsync(store.openRevision(-1n as BlobId, 5n), { instanceOf: InvalidArgumentError });
  t.is(await store.refcount(a, 5n), 0);
});

test('a draft is invisible before commit and readable after; chunk boundaries hold', async (t) => {
  const store = await openStore(t);
  const blobId = await store.createBlob();
  const data = pattern(3 * CHUNK + 123);
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 7n, null);
  await draft.write(data.subarray(0, 5000), 0);
  await draft.write(data.subarray(5000), 5000);
  t.is(draft.size(), data.length);
  const back = new Uint8Array(data.length);
  t.is(await draft.read(back, 0), data.length);
  t.deepEqual(back, data);
  await store.addReferences(txn, [ref(blobId, 100n)]);
  t.is(await store.latestRevision(blobId), null);
  await store.prepare(txn, 100n);
  t.is(await store.latestRevision(blobId), null, 'prepared is not yet visible');
  await t.throwsAsync(store.openRevision(blobId, 100n), { instanceOf: POSKeyError });
  await t.throwsAsync(draft.write(data, 0), { instanceOf: StorageTransactionError });
  await store.commit(txn);
  t.is(await store.latestRevision(blobId), 100n);
  t.deepEqual(await readAll(store, blobId, 100n), data);
  t.is(await store.refcount(blobId, 100n), 1);
  await t.throwsAsync(draft.write(data, 0), { instanceOf: TransactionClosedError });
});

test('reads past the end return 0; a read moves at most what was asked', async (t) => {
  const store = await openStore(t);
  const blobId = await store.createBlob();
  await commitBlob(store, blobId, 10n, pattern(10_000));
  const reader = await store.openRevision(blobId, 10n);
  t.teardown(() => reader.close());
  const small = new Uint8Array(100);
  t.is(await reader.read(small, 4090), 100);
  t.deepEqual(small, pattern(10_000).subarray(4090, 4190));
  t.is(await reader.read(small, 9950), 50);
  t.is(await reader.read(small, 10_000), 0);
  t.is(await reader.read(small, 50_000), 0);
});

test('rollback leaves no trace, before and after prepare', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, dir);
  const blobId = await store.createBlob();
  for (const prepared of [false, true]) {
    const txn = blobTransaction();
    const draft = await store.createDraft(txn, blobId, 7n, null);
    await draft.write(pattern(2 * CHUNK), 0);
    if (prepared) await store.prepare(txn, 50n);
    await store.rollback(txn);
    t.is(await store.latestRevision(blobId), null);
    await t.throwsAsync(store.openRevision(blobId, 50n), { instanceOf: POSKeyError });
    await t.throwsAsync(draft.read(new Uint8Array(10), 0), { instanceOf: TransactionClosedError });
    t.deepEqual(await readdir(join(dir, 'tmp')), []);
    t.deepEqual(await readdir(join(dir, 'blobs')), []);
  }
  await store.rollback(blobTransaction());
  await commitBlob(store, blobId, 50n, pattern(10));
  t.is(await store.latestRevision(blobId), 50n, 'the rolled-back revision number is free again');
});

test('writes past the end zero-fill; truncate cuts and extends', async (t) => {
  const store = await openStore(t);
  const blobId = await store.createBlob();
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 7n, null);
  await draft.write(new Uint8Array([1, 2, 3]), 2 * CHUNK + 10);
  t.is(draft.size(), 2 * CHUNK + 13);
  const all = new Uint8Array(draft.size());
  await draft.read(all, 0);
  t.true(all.subarray(0, 2 * CHUNK + 10).every((b) => b === 0));
  t.deepEqual([...all.subarray(2 * CHUNK + 10)], [1, 2, 3]);
  await draft.truncate(CHUNK + 5);
  t.is(draft.size(), CHUNK + 5);
  await draft.truncate(3 * CHUNK);
  const grown = new Uint8Array(3 * CHUNK);
  t.is(await draft.read(grown, 0), 3 * CHUNK);
  t.true(grown.every((b) => b === 0));
  await draft.write(pattern(10), CHUNK - 5);
  await store.prepare(txn, 9n);
  await store.commit(txn);
  const back = await readAll(store, blobId, 9n);
  t.is(back.length, 3 * CHUNK);
  t.deepEqual(back.subarray(CHUNK - 5, CHUNK + 5), pattern(10));
  t.true(back.subarray(CHUNK + 5).every((b) => b === 0));
  await t.throwsAsync(draft.truncate(-1), { instanceOf: InvalidArgumentError });
});

test("'a' and 'r+' drafts start from the base revision and never change it", async (t) => {
  const store = await openStore(t);
  const blobId = await store.createBlob();
  const base = pattern(3 * CHUNK + 100, 3);
  await commitBlob(store, blobId, 10n, base);

  // r+: overwrite a few bytes in the middle chunk
  const patch = pattern(16, 9);
  await commitBlob(store, blobId, 20n, patch, { base: 10n, at: CHUNK + 8 });
  const expected = base.slice();
  expected.set(patch, CHUNK + 8);
  t.deepEqual(await readAll(store, blobId, 20n), expected);
  t.deepEqual(await readAll(store, blobId, 10n), base, 'the base revision is unchanged');

  // a: append at the end
  const tail = pattern(CHUNK, 5);
  await commitBlob(store, blobId, 30n, tail, { base: 20n, at: expected.length });
  const appended = new Uint8Array(expected.length + tail.length);
  appended.set(expected);
  appended.set(tail, expected.length);
  t.deepEqual(await readAll(store, blobId, 30n), appended);
  t.deepEqual(await readAll(store, blobId, 20n), expected);
  t.is(await store.latestRevision(blobId), 30n);
});

test('partial update shares unchanged chunks with the base revision (hard links)', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, dir);
  const blobId = await store.createBlob();
  await commitBlob(store, blobId, 10n, pattern(8 * CHUNK));
  await commitBlob(store, blobId, 20n, pattern(4, 2), { base: 10n, at: 5 * CHUNK + 1 });
  const hex = blobId.toString(16).padStart(16, '0');
  const blobDir = join(dir, 'blobs', hex.slice(14, 16), hex.slice(12, 14), hex);
  const rev = (tid: bigint): string => join(blobDir, tid.toString(16).padStart(16, '0'));
  const shared = (await readdir(rev(20n))).filter((name) => fs.statSync(join(rev(20n), name)).ino === fs.statSync(join(rev(10n), name)).ino);
  t.is(shared.length, 7, 'only the changed chunk was copied');
  t.false(shared.includes('00000005'));
});

test('createDraft twice in one transaction replaces the first draft', async (t) => {
  const store = await openStore(t);
  const blobId = await store.createBlob();
  const txn = blobTransaction();
  const first = await store.createDraft(txn, blobId, 7n, null);
  await first.write(pattern(100), 0);
  const second = await store.createDraft(txn, blobId, 7n, null);
  t.is(second.size(), 0);
  await t.throwsAsync(first.write(pattern(1), 0), { instanceOf: TransactionClosedError });
  await second.write(pattern(5, 4), 0);
  await store.prepare(txn, 1n);
  await store.commit(txn);
  t.deepEqual(await readAll(store, blobId, 1n), pattern(5, 4));
});

test('prepare refuses a revision that already exists; commit needs prepare', async (t) => {
  const store = await openStore(t);
  const blobId = await store.createBlob();
  await commitBlob(store, blobId, 10n, pattern(10));
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 7n, null);
  await draft.write(pattern(3), 0);
  await t.throwsAsync(store.commit(txn), { instanceOf: StorageTransactionError });
  await t.throwsAsync(store.prepare(txn, 10n), { instanceOf: StorageTransactionError });
  await store.rollback(txn);
  await t.throwsAsync(store.prepare(txn, 11n), { instanceOf: TransactionClosedError });
});

test('references count at commit, release at once; reclaim removes unreferenced revisions', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, dir);
  const blobId = await store.createBlob();
  await commitBlob(store, blobId, 10n, pattern(100));
  const txn = blobTransaction();
  await store.addReferences(txn, [ref(blobId, 10n), ref(blobId, 10n), { handlerton: 'other', blobId, revision: 10n }]);
  t.is(await store.refcount(blobId, 10n), 1, 'not before commit');
  await store.prepare(txn, 11n);
  await store.releaseReferences([ref(blobId, 10n)]);
  t.is((await store.reclaim()).revisions, 0, 'a prepared reference pins the revision');
  await store.commit(txn);
  t.is(await store.refcount(blobId, 10n), 2);
  await store.releaseReferences([ref(blobId, 10n), ref(blobId, 10n), ref(blobId, 99n)]);
  t.is(await store.refcount(blobId, 10n), 0);
  t.is(await store.latestRevision(blobId), 10n, 'still there until reclaim');
  t.is((await store.reclaim()).revisions, 1);
  t.is(await store.latestRevision(blobId), null);
  await t.throwsAsync(store.openRevision(blobId, 10n), { instanceOf: POSKeyError });
  t.deepEqual(await readdir(join(dir, 'blobs', blobId.toString(16).padStart(2, '0').slice(-2))), [
    blobId.toString(16).padStart(16, '0').slice(12, 14),
  ]);
  t.is((await store.reclaim()).revisions, 0);
});

test('an open reader survives release and reclaim; once it is closed, reclaim removes the revision', async (t) => {
  const store = await openStore(t);
  const blobId = await store.createBlob();
  const data = pattern(5 * CHUNK);
  await commitBlob(store, blobId, 10n, data);
  const reader = await store.openRevision(blobId, 10n);
  t.is(await store.refcount(blobId, 10n), 2);
  await store.releaseReferences([ref(blobId, 10n)]);
  t.is(await store.refcount(blobId, 10n), 1);
  t.is((await store.reclaim()).revisions, 0);
  const out = new Uint8Array(data.length);
  t.is(await reader.read(out, 0), data.length);
  t.deepEqual(out, data);
  await reader.close();
  await reader.close();
  t.is(await store.refcount(blobId, 10n), 0);
  t.is((await store.reclaim()).revisions, 1);
  await t.throwsAsync(store.openRevision(blobId, 10n), { instanceOf: POSKeyError });
  await t.throwsAsync(reader.read(out, 0), { instanceOf: HandleClosedError });
});

test('a draft based on a revision keeps its data after the base is reclaimed', async (t) => {
  const store = await openStore(t);
  const blobId = await store.createBlob();
  const data = pattern(3 * CHUNK);
  await commitBlob(store, blobId, 10n, data);
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 7n, 10n);
  await store.releaseReferences([ref(blobId, 10n)]);
  t.is((await store.reclaim()).revisions, 1);
  const out = new Uint8Array(data.length);
  await draft.read(out, 0);
  t.deepEqual(out, data);
  await store.prepare(txn, 20n);
  await store.commit(txn);
  t.deepEqual(await readAll(store, blobId, 20n), data);
});

test('close rolls back open transactions and closes readers; later calls are StorageClosedError', async (t) => {
  const dir = await tempDir(t);
  const store = await FileStorage2Blobs.open({ dir, syncMode: 'none', chunkSize: CHUNK }, context);
  const blobId = await store.createBlob();
  await commitBlob(store, blobId, 10n, pattern(10));
  const reader = await store.openRevision(blobId, 10n);
  const txn = blobTransaction();
  await (await store.createDraft(txn, blobId, 7n, 10n)).write(pattern(3), 0);
  await store.close();
  await store.close();
  await t.throwsAsync(store.createBlob(), { instanceOf: StorageClosedError });
  await t.throwsAsync(reader.read(new Uint8Array(1), 0), { instanceOf: HandleClosedError });
  t.deepEqual(await readdir(join(dir, 'tmp')), []);
  const again = await openStore(t, dir);
  t.is(await again.refcount(blobId, 10n), 1);
});

test('one owner per directory', async (t) => {
  const dir = await tempDir(t);
  await openStore(t, dir);
  await t.throwsAsync(FileStorage2Blobs.open({ dir, syncMode: 'none' }, context), { instanceOf: StorageLockedError });
});

type DraftOp = { kind: 'write'; at: number; length: number; seed: number } | { kind: 'truncate'; size: number };

const draftOp: fc.Arbitrary<DraftOp> = fc.oneof(
  fc.record({
    kind: fc.constant('write' as const),
    at: fc.integer({ min: 0, max: 5 * CHUNK }),
    length: fc.integer({ min: 0, max: 2 * CHUNK + 10 }),
    seed: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), size: fc.integer({ min: 0, max: 6 * CHUNK }) }),
);

function applyToModel(model: Uint8Array, op: DraftOp): Uint8Array {
  if (op.kind === 'truncate') {
    const out = new Uint8Array(op.size);
    out.set(model.subarray(0, Math.min(op.size, model.length)));
    return out;
  }
  const out = new Uint8Array(Math.max(model.length, op.at + op.length));
  out.set(model);
  out.set(pattern(op.length, op.seed), op.at);
  return out;
}

test('random writes and truncates on fresh and based drafts match a byte-array model', async (t) => {
  const store = await openStore(t);
  let tid = 1000n;
  await fc.assert(
    fc.asyncProperty(fc.array(draftOp, { maxLength: 8 }), fc.array(draftOp, { maxLength: 8 }), async (first, second) => {
      const blobId = await store.createBlob();
      let model: Uint8Array = new Uint8Array(0);
      let base: Tid | null = null;
      for (const ops of [first, second]) {
        const txn = blobTransaction();
        const draft = await store.createDraft(txn, blobId, 1n, base);
        for (const op of ops) {
          if (op.kind === 'truncate') await draft.truncate(op.size);
          else await draft.write(pattern(op.length, op.seed), op.at);
          model = applyToModel(model, op);
          if (draft.size() !== model.length) return false;
        }
        const inDraft = new Uint8Array(model.length);
        await draft.read(inDraft, 0);
        if (Buffer.compare(inDraft, model) !== 0) return false;
        tid += 1n;
        await store.addReferences(txn, [ref(blobId, tid)]);
        await store.prepare(txn, tid);
        await store.commit(txn);
        if (Buffer.compare(await readAll(store, blobId, tid), model) !== 0) return false;
        base = tid;
      }
      return true;
    }),
    { numRuns: 40 },
  );
  t.pass();
});

test('a reader asking for a revision whose commit is under way waits for it', async (t) => {
  const store = await openStore(t);
  const blobId = await store.createBlob();
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 7n, null);
  await draft.write(pattern(2 * CHUNK), 0);
  await store.prepare(txn, 10n);
  const committing = store.commit(txn);
  const reading = readAll(store, blobId, 10n);
  await committing;
  t.deepEqual(await reading, pattern(2 * CHUNK));
});
