import * as fs from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import type { ExecutionContext } from 'ava';
import {
  blobTransaction,
  CorruptionError,
  InvalidArgumentError,
  MAX_BLOB_SIZE,
  openDatabase,
  silentLogger,
  systemClock,
} from '@handlerton/framework';
import type { BlobId, BlobRef, EngineContext, Tid } from '@handlerton/framework';
import { FileStorage2Blobs } from '../src/blobs/index.js';

/** Two 64 KiB checksum blocks per chunk. */
const CHUNK = 128 * 1024;
const context: EngineContext = { clock: systemClock, logger: silentLogger, fs };
const hex = (v: bigint): string => v.toString(16).padStart(16, '0');

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fs2-blobs-i-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openStore(t: ExecutionContext, dir: string, chunkSize = CHUNK): Promise<FileStorage2Blobs> {
  const store = await FileStorage2Blobs.open({ dir, syncMode: 'always', chunkSize }, context);
  t.teardown(() => store.close());
  return store;
}

function ref(blobId: BlobId, revision: Tid): BlobRef {
  return { handlerton: 'filestorage2', blobId, revision };
}

function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 29 + seed * 11 + (i >> 9)) & 0xff;
  return out;
}

function revisionDir(dir: string, blobId: BlobId, tid: Tid): string {
  const h = hex(blobId);
  return join(dir, 'blobs', h.slice(14, 16), h.slice(12, 14), h, hex(tid));
}

async function commitBlob(store: FileStorage2Blobs, blobId: BlobId, tid: Tid, bytes: Uint8Array, base: Tid | null = null, at = 0): Promise<void> {
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 7n, base);
  await draft.write(bytes, at);
  await store.addReferences(txn, [ref(blobId, tid)]);
  await store.prepare(txn, tid);
  await store.commit(txn);
}

async function readRange(store: FileStorage2Blobs, blobId: BlobId, tid: Tid, at: number, length: number, step = length): Promise<Uint8Array> {
  const reader = await store.openRevision(blobId, tid);
  try {
    const out = new Uint8Array(Math.min(length, reader.size - at));
    for (let done = 0; done < out.length; ) {
      const n = await reader.read(out.subarray(done, Math.min(done + step, out.length)), at + done);
      if (n === 0) break;
      done += n;
    }
    return out;
  } finally {
    await reader.close();
  }
}

async function overwrite(path: string, position: number, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.write(bytes, 0, bytes.length, position);
  } finally {
    await handle.close();
  }
}

test('8 bytes overwritten inside a chunk file: the read raises CorruptionError naming blob, revision, offset and file', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, dir);
  const blobId = await store.createBlob();
  const data = pattern(3 * CHUNK + 1000);
  await commitBlob(store, blobId, 10n, data);
  const chunkFile = join(revisionDir(dir, blobId, 10n), '00000001');
  await overwrite(chunkFile, 70_000, Buffer.from('DAMAGED!'));

  const error = await t.throwsAsync(readRange(store, blobId, 10n, 0, data.length), { instanceOf: CorruptionError });
  t.is(error?.code, 'HANDLERTON_CORRUPTION');
  t.regex(error?.message ?? '', new RegExp(hex(blobId)));
  t.regex(error?.message ?? '', new RegExp(hex(10n)));
  t.regex(error?.message ?? '', new RegExp(`blob offset ${CHUNK + 65536}\\b`));
  t.is(error?.file, chunkFile);
  t.is(error?.offset, 65536);
  // small reads inside the damaged block fail too; undamaged blocks still read
  await t.throwsAsync(readRange(store, blobId, 10n, CHUNK + 70_000, 10, 3), { instanceOf: CorruptionError });
  t.deepEqual(await readRange(store, blobId, 10n, 0, CHUNK + 65536, 5000), data.subarray(0, CHUNK + 65536));
  t.deepEqual(await readRange(store, blobId, 10n, 2 * CHUNK, CHUNK + 1000, 777), data.subarray(2 * CHUNK));
});

test('damage in a chunk shared by a partial update is still detected in the new revision', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, dir);
  const blobId = await store.createBlob();
  const data = pattern(2 * CHUNK);
  await commitBlob(store, blobId, 10n, data);
  await overwrite(join(revisionDir(dir, blobId, 10n), '00000000'), 100_000, Buffer.from([0xff ^ data[100_000]!]));
  await commitBlob(store, blobId, 11n, Buffer.from('new head'), 10n, 0);
  await t.throwsAsync(readRange(store, blobId, 11n, 0, 2 * CHUNK), { instanceOf: CorruptionError, message: /blob offset 65536\b/ });
  t.deepEqual(await readRange(store, blobId, 11n, CHUNK, CHUNK), data.subarray(CHUNK));
});

test('a torn chunk file, a damaged trailer and a lost chunk file are CorruptionError, never zeros', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, dir);
  const blobId = await store.createBlob();
  const data = pattern(3 * CHUNK);
  await commitBlob(store, blobId, 10n, data);
  const rev = revisionDir(dir, blobId, 10n);
  const size = (await stat(join(rev, '00000000'))).size;
  await truncate(join(rev, '00000000'), size - 3);
  await overwrite(join(rev, '00000001'), size - 6, Buffer.from([1]));
  await unlink(join(rev, '00000002'));
  await t.throwsAsync(readRange(store, blobId, 10n, 0, 10), { instanceOf: CorruptionError, message: /trailer.*blob offset 131072\b|blob offset 0\b/ });
  await t.throwsAsync(readRange(store, blobId, 10n, CHUNK, 10), { instanceOf: CorruptionError, message: /blob offset 262144\b|trailer/ });
  await t.throwsAsync(readRange(store, blobId, 10n, 2 * CHUNK, 10), { instanceOf: CorruptionError, message: /missing.*blob offset 262144\b/ });
});

test('truncate far past the end makes holes: no chunk file per empty chunk, zeros read back, a lost chunk is still damage', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, dir, 4096);
  const blobId = await store.createBlob();
  await commitBlob(store, blobId, 10n, Buffer.from('head'));
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 7n, 10n);
  await draft.truncate(4096 * 10_000);
  await draft.write(Buffer.from('tail'), 4096 * 10_000 - 2);
  t.true((await readdir(join(dir, 'tmp', (await readdir(join(dir, 'tmp')))[0]!))).length <= 4);
  const middle = new Uint8Array(10);
  await draft.read(middle, 4096 * 5000);
  t.deepEqual(middle, new Uint8Array(10));
  await store.addReferences(txn, [ref(blobId, 11n)]);
  await store.prepare(txn, 11n);
  await store.commit(txn);
  const rev = revisionDir(dir, blobId, 11n);
  t.deepEqual((await readdir(rev)).sort(), ['00000000', '0000270f', '00002710', 'HOLES']);
  t.deepEqual(Buffer.from(await readRange(store, blobId, 11n, 0, 4)), Buffer.from('head'));
  t.deepEqual(await readRange(store, blobId, 11n, 4096 * 3000, 5000, 999), new Uint8Array(5000));
  t.deepEqual(Buffer.from(await readRange(store, blobId, 11n, 4096 * 10_000 - 4, 10)), Buffer.from([0, 0, 0x74, 0x61, 0x69, 0x6c]));
  // the holes are recorded: without the HOLES file the empty chunks are missing files, i.e. damage
  await unlink(join(rev, 'HOLES'));
  await t.throwsAsync(readRange(store, blobId, 11n, 4096 * 3000, 10), { instanceOf: CorruptionError, message: /missing/ });
});

test('truncate(2**40) and a write near the end are sparse and fast; rollback is immediate', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, dir, 8 * 1024 * 1024);
  const blobId = await store.createBlob();
  await commitBlob(store, blobId, 10n, pattern(100));
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 7n, 10n);
  await draft.truncate(2 ** 40);
  await draft.write(Buffer.from('end'), 2 ** 40 - 1);
  t.is(draft.size(), 2 ** 40 + 2);
  const near = new Uint8Array(8);
  t.is(await draft.read(near, 2 ** 40 - 6), 8);
  t.deepEqual(Buffer.from(near), Buffer.from([0, 0, 0, 0, 0, 0x65, 0x6e, 0x64]));
  const [draftDir] = await readdir(join(dir, 'tmp'));
  t.true((await readdir(join(dir, 'tmp', draftDir!))).length <= 3);
  await store.addReferences(txn, [ref(blobId, 11n)]);
  await store.prepare(txn, 11n);
  await store.commit(txn);
  t.deepEqual(Buffer.from(await readRange(store, blobId, 11n, 2 ** 40 - 6, 8)), Buffer.from([0, 0, 0, 0, 0, 0x65, 0x6e, 0x64]));
  t.deepEqual(await readRange(store, blobId, 11n, 2 ** 39, 100_000), new Uint8Array(100_000));
  const other = blobTransaction();
  const big = await store.createDraft(other, blobId, 7n, 11n);
  await big.write(Buffer.from('x'), 2 ** 47);
  await store.rollback(other);
  t.deepEqual(await readdir(join(dir, 'tmp')), []);
});

test('drafts refuse to grow past MAX_BLOB_SIZE with InvalidArgumentError and change nothing', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, dir, 4096);
  const blobId = await store.createBlob();
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 7n, null);
  await draft.write(Buffer.from('keep'), 0);
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('no answer within 5 s'), 5000).unref());
  const outcome = (p: Promise<void>): Promise<unknown> => Promise.race([p.then(() => 'accepted', (e: unknown) => e), timeout]);
  t.true((await outcome(draft.truncate(MAX_BLOB_SIZE + 4096))) instanceof InvalidArgumentError);
  t.true((await outcome(draft.write(Buffer.from('xy'), MAX_BLOB_SIZE - 1))) instanceof InvalidArgumentError);
  t.is(draft.size(), 4);
  await draft.truncate(MAX_BLOB_SIZE);
  t.is(draft.size(), MAX_BLOB_SIZE);
  await draft.truncate(4);
  const back = new Uint8Array(4);
  await draft.read(back, 0);
  t.deepEqual(Buffer.from(back), Buffer.from('keep'));
  await store.rollback(txn);
});

test('a blob directory of layout version 1 holding revisions (no checksums) is refused with a clear error', async (t) => {
  const dir = await tempDir(t);
  const store = await FileStorage2Blobs.open({ dir, syncMode: 'none', chunkSize: 4096 }, context);
  const blobId = await store.createBlob();
  await commitBlob(store, blobId, 100n, pattern(5000));
  await store.close();
  await writeFile(join(dir, 'BLOBS-FORMAT'), JSON.stringify({ magic: 'handlerton-filestorage2-blobs', version: 1, chunkSize: 4096 }));
  await t.throwsAsync(FileStorage2Blobs.open({ dir, syncMode: 'none' }, context), { instanceOf: CorruptionError, message: /version 1 has no chunk checksums/ });
});

test('a blob directory of layout version 1 without any revision (every database with no blob yet) is upgraded in place', async (t) => {
  const dir = await tempDir(t);
  await (await FileStorage2Blobs.open({ dir, syncMode: 'none', chunkSize: 4096 }, context)).close();
  await writeFile(join(dir, 'BLOBS-FORMAT'), JSON.stringify({ magic: 'handlerton-filestorage2-blobs', version: 1, chunkSize: 4096 }));
  const store = await FileStorage2Blobs.open({ dir, syncMode: 'none' }, context);
  const blobId = await store.createBlob();
  await commitBlob(store, blobId, 100n, pattern(5000));
  await store.close();
  t.deepEqual(JSON.parse(await readFile(join(dir, 'BLOBS-FORMAT'), 'utf8')), { magic: 'handlerton-filestorage2-blobs', version: 2, chunkSize: 4096 });
});

type Op = { kind: 'write'; at: number; length: number; seed: number } | { kind: 'truncate'; size: number };
const LIMIT = 5 * CHUNK;
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), at: fc.integer({ min: 0, max: LIMIT }), length: fc.integer({ min: 1, max: CHUNK + 70_000 }), seed: fc.nat(255) }),
  fc.record({ kind: fc.constant('truncate' as const), size: fc.integer({ min: 0, max: LIMIT }) }),
  fc.record({ kind: fc.constant('truncate' as const), size: fc.constantFrom(0, 65536, CHUNK, CHUNK + 1, 3 * CHUNK - 1, 64 * CHUNK + 5) }),
);

function apply(model: Uint8Array, o: Op): Uint8Array {
  if (o.kind === 'truncate') {
    const out = new Uint8Array(o.size);
    out.set(model.subarray(0, o.size));
    return out;
  }
  const out = new Uint8Array(Math.max(model.length, o.at + o.length));
  out.set(model);
  out.set(pattern(o.length, o.seed), o.at);
  return out;
}

test('random writes, truncates and holes over multi-block chunks read back verified, through drafts based on drafts', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, dir);
  let tid = 1000n;
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 6 }), fc.array(op, { maxLength: 6 }), async (first, second) => {
      const blobId = await store.createBlob();
      let model: Uint8Array = new Uint8Array(0);
      let base: Tid | null = null;
      for (const ops of [first, second]) {
        const txn = blobTransaction();
        const draft = await store.createDraft(txn, blobId, 1n, base);
        for (const o of ops) {
          if (o.kind === 'truncate') await draft.truncate(o.size);
          else await draft.write(pattern(o.length, o.seed), o.at);
          model = apply(model, o);
        }
        const inDraft = new Uint8Array(model.length);
        await draft.read(inDraft, 0);
        if (Buffer.compare(inDraft, model) !== 0) return false;
        tid += 1n;
        await store.addReferences(txn, [ref(blobId, tid)]);
        await store.prepare(txn, tid);
        await store.commit(txn);
        if (Buffer.compare(await readRange(store, blobId, tid, 0, model.length, 50_000), model) !== 0) return false;
        base = tid;
      }
      return true;
    }),
    { numRuns: 30 },
  );
  t.pass();
});

test('Database API: truncate(2**40) on an r+ handle reads zeros near the end, and the abort returns at once leaving no draft', async (t) => {
  const dir = await tempDir(t);
  const db = await openDatabase(`filestorage2:${dir}`);
  t.teardown(() => db.close());
  const oid = await db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    const h = await blob.open('w');
    await h.write(Buffer.from('start'));
    await h.close();
    await tx.write(0n, Buffer.from('root'), { refs: [blob.oid] });
    return blob.oid;
  });
  const tx = db.begin();
  const h = await (await tx.blob(oid)).open('r+');
  await h.truncate(2 ** 40);
  h.seek(2 ** 40 - 4);
  t.deepEqual(Buffer.from(await h.read(16)), Buffer.alloc(4));
  h.seek(2 ** 48 - 1);
  await t.throwsAsync(h.write(Buffer.from('xy')), { instanceOf: InvalidArgumentError });
  await tx.abort();
  t.deepEqual(await readdir(join(dir, 'blobs', 'tmp')), []);
  const snap = await db.snapshot();
  const r = await (await snap.blob(oid)).open('r');
  t.deepEqual(Buffer.from(await r.read(100)).toString(), 'start');
  await r.close();
  await snap.close();
});

test('a write that fails half-way leaves checksums that match what reached the file', async (t) => {
  const dir = await tempDir(t);
  let armed = false;
  let failNext = false;
  type WriteCb = (err: NodeJS.ErrnoException | null, written: number) => void;
  const disk = new Proxy(fs, {
    get(target, prop, receiver) {
      if (prop === 'write') {
        return (fd: number, buffer: Uint8Array, offset: number, length: number, position: number, cb: WriteCb) => {
          if (armed) {
            armed = false;
            failNext = true;
            target.write(fd, buffer, offset, Math.min(length, 65536), position, cb);
          } else if (failNext) {
            failNext = false;
            const error: NodeJS.ErrnoException = new Error('ENOSPC: injected');
            error.code = 'ENOSPC';
            setImmediate(() => cb(error, 0));
          } else {
            target.write(fd, buffer, offset, length, position, cb);
          }
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  const store = await FileStorage2Blobs.open({ dir, syncMode: 'always', chunkSize: CHUNK }, { ...context, fs: disk });
  t.teardown(() => store.close());
  const blobId = await store.createBlob();
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 7n, null);
  const first = pattern(CHUNK, 1);
  await draft.write(first, 0);
  armed = true;
  await t.throwsAsync(draft.write(pattern(CHUNK, 2), 0));
  await store.addReferences(txn, [ref(blobId, 10n)]);
  await store.prepare(txn, 10n);
  await store.commit(txn);
  const expected = Buffer.concat([pattern(CHUNK, 2).subarray(0, 65536), first.subarray(65536)]);
  t.deepEqual(Buffer.from(await readRange(store, blobId, 10n, 0, CHUNK)), expected);
});

test('reads through a draft verify the committed chunks it shares; its own written chunks read back current', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, dir);
  const blobId = await store.createBlob();
  const data = pattern(12 * CHUNK);
  await commitBlob(store, blobId, 10n, data);
  await overwrite(join(revisionDir(dir, blobId, 10n), '00000003'), 5, Buffer.from([data[3 * CHUNK + 5]! ^ 1]));
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 7n, 10n);
  const small = new Uint8Array(10);
  await t.throwsAsync(draft.read(small, 3 * CHUNK), { instanceOf: CorruptionError, message: new RegExp(`${hex(blobId)}.*blob offset ${3 * CHUNK}\\b`) });
  // a block read (and cached) through the draft, then written, then read again after its chunk was closed
  await draft.read(small, 100);
  t.deepEqual(small, data.subarray(100, 110));
  await draft.write(Buffer.from('XY'), 102);
  for (let i = 4; i < 12; i++) await draft.write(Buffer.from('z'), i * CHUNK);
  await draft.read(small, 100);
  t.deepEqual(Buffer.from(small), Buffer.concat([data.subarray(100, 102), Buffer.from('XY'), data.subarray(104, 110)]));
  await store.rollback(txn);
});

test('a refcount journal that lost the records of a published revision: reading it is CorruptionError naming the journal, not POSKeyError (corruption sweep)', async (t) => {
  const dir = await tempDir(t);
  const first = await FileStorage2Blobs.open({ dir, syncMode: 'always', chunkSize: CHUNK }, context);
  const kept = await first.createBlob();
  await commitBlob(first, kept, 10n, pattern(1000, 1));
  const journal = join(dir, 'refs.log');
  const before = (await stat(journal)).size;
  const lost = await first.createBlob();
  await commitBlob(first, lost, 20n, pattern(5000, 2));
  await first.close();
  await truncate(journal, before); // whole frames gone: reads as a journal that simply ends earlier
  const store = await openStore(t, dir);
  t.deepEqual(await readRange(store, kept, 10n, 0, 1000), pattern(1000, 1));
  const error = await t.throwsAsync(store.openRevision(lost, 20n));
  t.is((error as CorruptionError | undefined)?.code, 'HANDLERTON_CORRUPTION', String(error));
  t.is((error as CorruptionError).file, journal);
  t.is((error as CorruptionError).offset, before, 'the offset where the journal now ends');
  // a revision that never existed is still POSKeyError
  const missing = await t.throwsAsync(store.openRevision(lost, 30n));
  t.is((missing as { code?: string } | undefined)?.code, 'HANDLERTON_POS_KEY');
});
