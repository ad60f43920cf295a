import * as fs from 'node:fs';
import { appendFile, cp, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import {
  blobTransaction,
  CorruptionError,
  POSKeyError,
  silentLogger,
  StorageIOError,
  systemClock,
} from '@handlerton/framework';
import type { BlobId, BlobRef, EngineContext, FileSystem, PendingRevision, Tid } from '@handlerton/framework';
import { FileStorage2Blobs } from '../src/blobs/index.js';
import { FsOps } from '../src/blobs/fs-ops.js';
import { Journal } from '../src/blobs/journal.js';
import type { JournalRecord } from '../src/blobs/journal-codec.js';

const CHUNK = 4096;
const context: EngineContext = { clock: systemClock, logger: silentLogger, fs };
const hex = (v: bigint): string => v.toString(16).padStart(16, '0');

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fs2-blobs-d-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openStore(t: ExecutionContext, dir: string, ctx: EngineContext = context): Promise<FileStorage2Blobs> {
  const store = await FileStorage2Blobs.open({ dir, syncMode: 'always', chunkSize: CHUNK }, ctx);
  t.teardown(() => store.close());
  return store;
}

function ref(blobId: BlobId, revision: Tid): BlobRef {
  return { handlerton: 'filestorage2', blobId, revision };
}

function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 13 + seed) & 0xff;
  return out;
}

async function readAll(store: FileStorage2Blobs, blobId: BlobId, tid: Tid): Promise<Uint8Array> {
  const reader = await store.openRevision(blobId, tid);
  try {
    const out = new Uint8Array(reader.size);
    await reader.read(out, 0);
    return out;
  } finally {
    await reader.close();
  }
}

/** Prepares (does not commit) a new revision of a new blob; returns the blob id. */
async function prepareOnly(store: FileStorage2Blobs, tid: Tid, bytes: Uint8Array, refs: BlobRef[] = []): Promise<BlobId> {
  const blobId = await store.createBlob();
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 42n, null);
  await draft.write(bytes, 0);
  await store.addReferences(txn, [ref(blobId, tid), ...refs]);
  await store.prepare(txn, tid);
  return blobId;
}

/** A copy of a live directory: what a crash right now would leave (the page cache reaches disk). */
async function crashCopy(t: ExecutionContext, dir: string): Promise<string> {
  const copy = await tempDir(t);
  await cp(dir, copy, { recursive: true });
  return copy;
}

test('reopen keeps committed revisions, references and the blob id counter', async (t) => {
  const dir = await tempDir(t);
  const first = await FileStorage2Blobs.open({ dir, syncMode: 'always', chunkSize: CHUNK }, context);
  const blobId = await first.createBlob();
  const data = pattern(2 * CHUNK + 7);
  const txn = blobTransaction();
  await (await first.createDraft(txn, blobId, 1n, null)).write(data, 0);
  await first.addReferences(txn, [ref(blobId, 10n), ref(blobId, 10n)]);
  await first.prepare(txn, 10n);
  await first.commit(txn);
  await first.releaseReferences([ref(blobId, 10n)]);
  await first.close();

  const second = await openStore(t, dir);
  t.is(await second.latestRevision(blobId), 10n);
  t.is(await second.refcount(blobId, 10n), 1);
  t.deepEqual(await readAll(second, blobId, 10n), data);
  t.true((await second.createBlob()) > blobId);
  t.is(second.chunkSize, CHUNK);
});

test('a reopen with another chunk size keeps the directory’s own', async (t) => {
  const dir = await tempDir(t);
  const first = await FileStorage2Blobs.open({ dir, syncMode: 'none', chunkSize: CHUNK }, context);
  await first.close();
  const second = await FileStorage2Blobs.open({ dir, syncMode: 'none', chunkSize: 8192 }, context);
  t.teardown(() => second.close());
  t.is(second.chunkSize, CHUNK);
});

test('recover commits the prepared revisions the storage committed and discards the others', async (t) => {
  const dir = await tempDir(t);
  const live = await openStore(t, dir);
  const keep = await prepareOnly(live, 100n, pattern(3 * CHUNK, 1));
  const drop = await prepareOnly(live, 200n, pattern(CHUNK, 2));
  const crashed = await crashCopy(t, dir);

  const store = await openStore(t, crashed);
  t.is(await store.latestRevision(keep), null, 'nothing is visible before recover');
  const asked: PendingRevision[] = [];
  await store.recover(async (pending) => {
    asked.push(pending);
    return pending.blobId === keep;
  });
  t.deepEqual(
    asked.map((p) => [p.blobId, p.revision, p.oid]).sort(),
    [[keep, 100n, 42n], [drop, 200n, 42n]].sort(),
  );
  t.deepEqual(await readAll(store, keep, 100n), pattern(3 * CHUNK, 1));
  t.is(await store.refcount(keep, 100n), 1);
  t.is(await store.latestRevision(drop), null);
  await t.throwsAsync(store.openRevision(drop, 200n), { instanceOf: POSKeyError });
  t.deepEqual(await readdir(join(crashed, 'tmp')), []);

  await store.close();
  const again = await openStore(t, crashed);
  t.is(await again.refcount(keep, 100n), 1, 'the resolution is durable');
  t.is(await again.latestRevision(drop), null);
  let askedAgain = 0;
  await again.recover(async () => {
    askedAgain += 1;
    return true;
  });
  t.is(askedAgain, 0);
});

test('recover finishes a commit that crashed after the rename, or undoes it', async (t) => {
  const dir = await tempDir(t);
  const live = await openStore(t, dir);
  const blobId = await prepareOnly(live, 100n, pattern(5000));
  // simulate a crash in commit: the draft was renamed into place, the commit record never written
  const [draftName] = await readdir(join(dir, 'tmp'));
  const h = hex(blobId);
  const blobDir = join(dir, 'blobs', h.slice(14, 16), h.slice(12, 14), h);
  await fs.promises.mkdir(blobDir, { recursive: true });
  await rename(join(dir, 'tmp', draftName as string), join(blobDir, hex(100n)));
  const crashed = await crashCopy(t, dir);
  const crashedAgain = await crashCopy(t, dir);

  const yes = await openStore(t, crashed);
  await yes.recover(async () => true);
  t.deepEqual(await readAll(yes, blobId, 100n), pattern(5000));

  const no = await openStore(t, crashedAgain);
  await no.recover(async () => false);
  t.is(await no.latestRevision(blobId), null);
  await t.throwsAsync(stat(join(crashedAgain, 'blobs', h.slice(14, 16), h.slice(12, 14), h, hex(100n))));
});

test('a prepared reference pins its revision across a crash until recovered', async (t) => {
  const dir = await tempDir(t);
  const live = await openStore(t, dir);
  const old = await prepareOnly(live, 10n, pattern(100));
  await live.recover(async () => true); // nothing pending from a crash: the live transaction is skipped
  t.is(await live.latestRevision(old), null);
  const crashed = await crashCopy(t, dir);
  const store = await openStore(t, crashed);
  await store.recover(async () => true);
  t.is(await store.refcount(old, 10n), 1);
  // a new prepared transaction adds a reference, then the old reference goes
  await prepareOnly(store, 20n, pattern(10), [ref(old, 10n)]);
  await store.releaseReferences([ref(old, 10n)]);
  const crashed2 = await crashCopy(t, crashed);
  const store2 = await openStore(t, crashed2);
  t.is((await store2.reclaim()).revisions, 0, 'the pending transaction pins the revision');
  await store2.recover(async () => true);
  t.is(await store2.refcount(old, 10n), 1);
});

test('stale drafts in tmp/ are removed at open', async (t) => {
  const dir = await tempDir(t);
  const live = await openStore(t, dir);
  const blobId = await live.createBlob();
  const txn = blobTransaction();
  await (await live.createDraft(txn, blobId, 1n, null)).write(pattern(3 * CHUNK), 0);
  const crashed = await crashCopy(t, dir);
  await writeFile(join(crashed, 'tmp', 'junk'), 'x');
  t.is((await readdir(join(crashed, 'tmp'))).length, 2);
  await openStore(t, crashed);
  t.deepEqual(await readdir(join(crashed, 'tmp')), []);
});

test('a torn journal tail is cut at open; damage in the middle is CorruptionError', async (t) => {
  const dir = await tempDir(t);
  const first = await FileStorage2Blobs.open({ dir, syncMode: 'always', chunkSize: CHUNK }, context);
  const blobId = await first.createBlob();
  const txn = blobTransaction();
  await (await first.createDraft(txn, blobId, 1n, null)).write(pattern(10), 0);
  await first.addReferences(txn, [ref(blobId, 10n)]);
  await first.prepare(txn, 10n);
  await first.commit(txn);
  await first.close();
  const journal = join(dir, 'refs.log');
  const good = (await stat(journal)).size;
  await appendFile(journal, Buffer.from([40, 0, 0, 0, 1, 2, 3]));
  const second = await FileStorage2Blobs.open({ dir, syncMode: 'always', chunkSize: CHUNK }, context);
  t.is(await second.refcount(blobId, 10n), 1);
  await second.close();
  t.is((await stat(journal)).size, good);

  const bytes = await fs.promises.readFile(journal);
  bytes[12] = (bytes[12] as number) ^ 0xff; // inside the first record, with valid records after it
  await writeFile(journal, bytes);
  await t.throwsAsync(FileStorage2Blobs.open({ dir, syncMode: 'always', chunkSize: CHUNK }, context), {
    instanceOf: CorruptionError,
  });
});

/** node:fs with fdatasync failing (EIO) while `armed.on` is true. */
function failingFsync(armed: { on: boolean }): FileSystem {
  const fdatasync = ((fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
    if (!armed.on) return fs.fdatasync(fd, callback);
    const error: NodeJS.ErrnoException = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    process.nextTick(callback, error);
  }) as typeof fs.fdatasync;
  return { ...fs, fdatasync };
}

test('a failing fsync at prepare is StorageIOError, fail-stop, and leaves nothing visible', async (t) => {
  const dir = await tempDir(t);
  const armed = { on: false };
  const store = await openStore(t, dir, { ...context, fs: failingFsync(armed) });
  const blobId = await store.createBlob();
  const txn = blobTransaction();
  await (await store.createDraft(txn, blobId, 1n, null)).write(pattern(2 * CHUNK), 0);
  await store.addReferences(txn, [ref(blobId, 10n)]);
  armed.on = true;
  await t.throwsAsync(store.prepare(txn, 10n), { instanceOf: StorageIOError });
  armed.on = false;
  await t.throwsAsync(store.commit(txn), { instanceOf: StorageIOError });
  await store.rollback(txn);
  t.is(await store.latestRevision(blobId), null);
  t.is(await store.refcount(blobId, 10n), 0);
  await t.throwsAsync(store.createBlob(), { instanceOf: StorageIOError }, 'fail-stop: no more writes');
  await store.close();

  const reopened = await openStore(t, dir);
  await reopened.recover(async () => false);
  t.is(await reopened.latestRevision(blobId), null);
  t.deepEqual(await readdir(join(dir, 'tmp')), []);
  t.deepEqual(await readdir(join(dir, 'blobs')), []);
});

test('a failing fsync at commit is StorageIOError; the prepared data stays for recover', async (t) => {
  const dir = await tempDir(t);
  const armed = { on: false };
  const fsync = ((fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
    if (!armed.on) return fs.fsync(fd, callback);
    process.nextTick(callback, Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
  }) as typeof fs.fsync;
  const store = await openStore(t, dir, { ...context, fs: { ...failingFsync(armed), fsync } });
  const blobId = await store.createBlob();
  const txn = blobTransaction();
  await (await store.createDraft(txn, blobId, 1n, null)).write(pattern(10), 0);
  await store.prepare(txn, 20n);
  armed.on = true;
  await t.throwsAsync(store.commit(txn), { instanceOf: StorageIOError });
  armed.on = false;
  await store.rollback(txn);
  t.is(await store.latestRevision(blobId), null);
  await store.close();

  const reopened = await openStore(t, dir);
  await reopened.recover(async (p) => p.blobId === blobId);
  t.deepEqual(await readAll(reopened, blobId, 20n), pattern(10));
});

test('a journal grown far past the live state is compacted at open', async (t) => {
  const dir = await tempDir(t);
  const first = await FileStorage2Blobs.open({ dir, syncMode: 'none', chunkSize: CHUNK }, context);
  const blobId = await first.createBlob();
  const txn = blobTransaction();
  await (await first.createDraft(txn, blobId, 1n, null)).write(pattern(100), 0);
  await first.addReferences(txn, [ref(blobId, 10n), ref(blobId, 10n)]);
  await first.prepare(txn, 10n);
  await first.commit(txn);
  const pending = await prepareOnly(first, 20n, pattern(50));
  const crashed = await crashCopy(t, dir);
  await first.close();

  // grow the crashed copy's journal with 60,000 records that cancel out (each +1 -1 on the revision)
  const path = join(crashed, 'refs.log');
  const journal = await Journal.open(new FsOps(fs), path, (await stat(path)).size);
  for (let i = 0; i < 200; i++) {
    const batch: JournalRecord[] = [];
    for (let j = 0; j < 150; j++) {
      const seq = BigInt(1_000_000 + i * 150 + j);
      batch.push({ type: 'prepare', txnSeq: seq, revision: 1n, drafts: [], refs: [{ blobId, revision: 10n }] });
      batch.push({ type: 'commit', txnSeq: seq });
    }
    batch.push({ type: 'release', refs: Array.from({ length: 150 }, () => ({ blobId, revision: 10n })) });
    await journal.append(batch, false);
  }
  await journal.close();
  const before = (await stat(path)).size;
  t.true(before > 1024 * 1024);

  const store = await openStore(t, crashed);
  const after = (await stat(path)).size;
  t.true(after < 1024, `compacted from ${before} to ${after} bytes`);
  t.is(await store.refcount(blobId, 10n), 2);
  t.deepEqual(await readAll(store, blobId, 10n), pattern(100));
  t.true((await store.createBlob()) > pending);
  await store.recover(async () => true);
  t.deepEqual(await readAll(store, pending, 20n), pattern(50), 'a pending transaction survives compaction');
});

test('blob ids handed out are never handed out again after a crash, at one journal record per 1024 ids', async (t) => {
  const dir = await tempDir(t);
  const live = await openStore(t, dir);
  const journalSize = async (d: string): Promise<number> => (await stat(join(d, 'refs.log'))).size;
  const ids: BlobId[] = [];
  const ids0 = await Promise.all(Array.from({ length: 10 }, () => live.createBlob()));
  ids.push(...ids0);
  const afterFirst = await journalSize(dir);
  for (let i = 0; i < 500; i++) ids.push(await live.createBlob());
  t.is(await journalSize(dir), afterFirst, 'no record per id');
  t.is(new Set(ids).size, ids.length);
  const crashed = await crashCopy(t, dir);
  const store = await openStore(t, crashed);
  const next = await store.createBlob();
  t.true(ids.every((id) => id < next));
});

test('a references-only prepare is decided by its witness at recover', async (t) => {
  const dir = await tempDir(t);
  const live = await openStore(t, dir);
  const blobId = await prepareOnly(live, 10n, pattern(100));
  const crashed0 = await crashCopy(t, dir);
  const base = await openStore(t, crashed0);
  await base.recover(async () => true);
  t.is(await base.refcount(blobId, 10n), 1);
  const only = blobTransaction();
  await base.addReferences(only, [ref(blobId, 10n)]);
  await base.prepare(only, 30n, 77n);
  for (const committed of [false, true]) {
    const crashed = await crashCopy(t, crashed0);
    const store = await openStore(t, crashed);
    const asked: string[] = [];
    await store.recover(
      async () => t.fail('no draft is pending') as never,
      async (pending) => {
        asked.push(`${pending.tid}/${pending.witness}`);
        return committed;
      },
    );
    t.deepEqual(asked, ['30/77']);
    t.is(await store.refcount(blobId, 10n), committed ? 2 : 1);
  }
});
