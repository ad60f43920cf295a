/**
 * The local blob cache of the PostgreSQL blob handlerton: filled only by reads, size-checked,
 * evicted least-recently-used, emptied of reclaimed revisions, safe for readers mid-read and for
 * several processes sharing one directory.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import pg from 'pg';
import { blobTransaction, InvalidConfigError, POSKeyError, silentLogger, systemClock, type BlobHandlerton, type BlobId, type Tid } from '@handlerton/framework';
import { parsePgOptions, plugin } from '../src/index.js';
import { startTestServerOrSkip, type TestServer } from '../src/testing/index.js';

const started = await startTestServerOrSkip();
const server: TestServer | undefined = 'server' in started ? started.server : undefined;
test.after.always('stop the PostgreSQL test server', async () => {
  await server?.stop();
});
const pgTest = server === undefined ? test.skip : test.serial;
if (server === undefined) test.skip('skip' in started ? started.skip : '', (t) => t.pass());

const CHUNK = 64 * 1024;
const MIB = 1024 * 1024;
let nextRevision = 1_000n;

async function openBlobs(schema: string, dir: string, bytes = 64 * MIB): Promise<BlobHandlerton> {
  const options = plugin.parseOptions({
    location: server!.url,
    options: { schema, poolSize: 2, chunkSize: CHUNK, blobCacheDir: dir, blobCacheBytes: bytes },
    configPath: 'blobs',
  });
  return plugin.createBlobHandlerton!(options, { clock: systemClock, logger: silentLogger, fs });
}

/** Deterministic content of `size` bytes. */
function content(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 7 + (i >> 12)) & 0xff;
  return bytes;
}

/** Commits `bytes` as a new revision of `blobId` (a new blob when omitted), optionally copied from `base`; one record reference. */
async function commitBlob(blobs: BlobHandlerton, bytes: Uint8Array | null, from?: { blobId: BlobId; revision: Tid }): Promise<{ blobId: BlobId; revision: Tid }> {
  const blobId = from?.blobId ?? (await blobs.createBlob());
  const revision = nextRevision++;
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, from?.revision ?? null);
  if (bytes !== null) await draft.write(bytes, 0);
  await blobs.addReferences(txn, [{ handlerton: blobs.name, blobId, revision }]);
  await blobs.prepare(txn, revision);
  await blobs.commit(txn);
  return { blobId, revision };
}

async function readAll(blobs: BlobHandlerton, blobId: BlobId, revision: Tid, step = 50_000): Promise<Uint8Array> {
  const reader = await blobs.openRevision(blobId, revision);
  try {
    const out = new Uint8Array(reader.size);
    for (let position = 0; position < reader.size; ) position += await reader.read(out.subarray(position, position + step), position);
    return out;
  } finally {
    await reader.close();
  }
}

const cacheFiles = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((n) => n.endsWith('.blob')).sort();
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function withCase(t: { teardown(fn: () => Promise<void>): void }, prefix: string): Promise<{ schema: string; dir: string }> {
  const schema = server!.newSchemaName(prefix);
  const dir = await mkdtemp(join(tmpdir(), 'htpg-cache-test-'));
  t.teardown(async () => {
    await rm(dir, { recursive: true, force: true });
    await server!.dropSchema(schema);
  });
  return { schema, dir };
}

test('options: blobCacheDir and blobCacheBytes are validated and name themselves', (t) => {
  const parse = (options: Record<string, unknown>) => parsePgOptions({ location: 'postgresql://h/d', options, configPath: 'blobs' });
  t.is(parse({}).blobCacheDir, undefined);
  t.is(parse({ blobCacheDir: '/c' }).blobCacheBytes, 1024 * MIB);
  t.is(parse({ blobCacheDir: '/c', blobCacheBytes: 2 * MIB }).blobCacheBytes, 2 * MIB);
  const bad = (options: Record<string, unknown>) => t.throws(() => parse(options), { instanceOf: InvalidConfigError })!.message;
  t.regex(bad({ blobCacheDir: '' }), /blobs\.options\.blobCacheDir/);
  t.regex(bad({ blobCacheDir: 7 }), /blobs\.options\.blobCacheDir/);
  t.regex(bad({ blobCacheDir: '/c', blobCacheBytes: 1000 }), /blobs\.options\.blobCacheBytes/);
  t.regex(bad({ blobCacheDir: '/c', blobCacheBytes: MIB + 0.5 }), /blobs\.options\.blobCacheBytes/);
  t.regex(bad({ blobCacheBytes: 2 * MIB }), /blobs\.options\.blobCacheBytes: needs options\.blobCacheDir/);
});

pgTest('filled only by a read (not by writes, copies or opening), then read from the file; a damaged file falls back to the server', async (t) => {
  const { schema, dir } = await withCase(t, 'cfill');
  const blobs = await openBlobs(schema, dir);
  try {
    const original = content(10 * CHUNK + 123, 1);
    const a = await commitBlob(blobs, original);
    const copy = await commitBlob(blobs, null, a);
    const opened = await blobs.openRevision(a.blobId, a.revision);
    t.is(opened.size, original.length);
    await opened.close();
    t.deepEqual(await cacheFiles(dir), [], 'no cache file after a write, a copy and an open without reads');

    t.true(Buffer.from(await readAll(blobs, a.blobId, a.revision)).equals(original));
    const [file] = await cacheFiles(dir);
    t.truthy(file);
    t.deepEqual(await cacheFiles(dir), [file], 'one file: only the revision read, not its copy');
    t.true(file!.endsWith(`${a.revision.toString(16).padStart(16, '0')}.blob`) && copy.revision !== a.revision);
    t.true((await readFile(join(dir, file!))).equals(original), 'the cache file holds the revision');
    t.deepEqual((await readdir(dir)).filter((n) => n.includes('.tmp-')), [], 'no temporary file left');

    // Change the chunk rows behind the cache's back: reads keep coming from the file.
    const admin = new pg.Client({ connectionString: server!.url });
    await admin.connect();
    try {
      const changed = new Uint8Array(original.length).fill(0x5a);
      await admin.query(`update ${schema}.blob_chunk set data = decode(repeat('5a', length(data)), 'hex')`);
      t.true(Buffer.from(await readAll(blobs, a.blobId, a.revision)).equals(original), 'served from the cache file');

      // A short file (damaged, or cut by a crash) is discarded at open: the server's bytes are read and cached again.
      await truncate(join(dir, file!), 1000);
      t.true(Buffer.from(await readAll(blobs, a.blobId, a.revision)).equals(changed), 'read from the server, never short');
      t.is((await stat(join(dir, file!))).size, original.length, 'filled again');

      // Cut while a reader has it open: the rest of the read comes from the server.
      const reader = await blobs.openRevision(a.blobId, a.revision);
      const head = new Uint8Array(CHUNK);
      t.is(await reader.read(head, 0), CHUNK);
      await truncate(join(dir, file!), 2 * CHUNK);
      const tail = new Uint8Array(3 * CHUNK);
      t.is(await reader.read(tail, 5 * CHUNK), tail.length);
      t.true(Buffer.from(tail).equals(changed.subarray(5 * CHUNK, 8 * CHUNK)), 'no short or zero bytes from a damaged file');
      await reader.close();
      t.deepEqual(await cacheFiles(dir), [], 'the damaged file was discarded');
    } finally {
      await admin.end();
    }
  } finally {
    await blobs.close();
  }
});

pgTest('eviction and reclaim by another client remove a file while a reader is mid-read: the reader still gets every byte', async (t) => {
  const { schema, dir } = await withCase(t, 'cevict');
  const [first, second] = [await openBlobs(schema, dir, MIB), await openBlobs(schema, dir, MIB)];
  try {
    const bytes = [content(9 * CHUNK, 2), content(9 * CHUNK, 3), content(9 * CHUNK, 4)];
    const [b1, b2, b3] = [await commitBlob(first, bytes[0]!), await commitBlob(first, bytes[1]!), await commitBlob(first, bytes[2]!)];
    // Eviction: `first` is mid-read of b1 when `second` fills b2 (over the 1 MiB budget): b1's file, the oldest, goes.
    const reader = await first.openRevision(b1.blobId, b1.revision);
    const got = new Uint8Array(reader.size);
    t.is(await reader.read(got.subarray(0, 4 * CHUNK), 0), 4 * CHUNK);
    const name1 = (await cacheFiles(dir))[0]!;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await readAll(second, b2.blobId, b2.revision);
    await readAll(second, b2.blobId, b2.revision);
    await waitFor(async () => !(await cacheFiles(dir)).includes(name1));
    t.false((await cacheFiles(dir)).includes(name1), 'the other client evicted the file being read');
    // Overwrite the server's chunk rows: the rest of the read can only come from the open descriptor.
    const admin = new pg.Client({ connectionString: server!.url });
    await admin.connect();
    await admin
      .query(`update ${schema}.blob_chunk set data = decode(repeat('5a', length(data)), 'hex') where chunk_id in (select chunk_id from ${schema}.blob_revision_chunk where blob_id = $1)`, [b1.blobId])
      .finally(() => admin.end());
    t.is(await reader.read(got.subarray(4 * CHUNK), 4 * CHUNK), 5 * CHUNK);
    t.true(Buffer.from(got).equals(bytes[0]!), 'the reader read every byte from its open descriptor');
    await reader.close();

    // Reclaim: `first` is mid-read of b3 when `second` releases and reclaims it (it does not know first's reader).
    const reader3 = await first.openRevision(b3.blobId, b3.revision);
    const got3 = new Uint8Array(reader3.size);
    t.is(await reader3.read(got3.subarray(0, CHUNK), 0), CHUNK);
    const name3 = (await cacheFiles(dir)).find((n) => n.endsWith(`${b3.revision.toString(16).padStart(16, '0')}.blob`))!;
    t.truthy(name3);
    await second.releaseReferences([{ handlerton: second.name, blobId: b3.blobId, revision: b3.revision }]);
    t.true((await second.reclaim()).revisions >= 1);
    t.false((await cacheFiles(dir)).includes(name3), 'the reclaiming client deleted the cache file of the revision it reclaimed');
    t.is(await reader3.read(got3.subarray(CHUNK), CHUNK), 8 * CHUNK);
    t.true(Buffer.from(got3).equals(bytes[2]!), 'the mid-read reader still got every byte');
    await reader3.close();
  } finally {
    await Promise.all([first.close(), second.close()]);
  }
});

pgTest('a revision reclaimed by a client with another cache directory leaves this cache at the next scan (here: on open), as do dead fills\' temporary files', async (t) => {
  const { schema, dir } = await withCase(t, 'csweep');
  const otherDir = await mkdtemp(join(tmpdir(), 'htpg-cache-other-'));
  t.teardown(() => rm(otherDir, { recursive: true, force: true }));
  let reading = await openBlobs(schema, dir);
  const reclaiming = await openBlobs(schema, otherDir);
  try {
    const kept = await commitBlob(reading, content(3 * CHUNK, 5));
    const doomed = await commitBlob(reading, content(3 * CHUNK, 6));
    await readAll(reading, kept.blobId, kept.revision);
    await readAll(reading, doomed.blobId, doomed.revision);
    t.is((await cacheFiles(dir)).length, 2);
    await reading.close();
    await reclaiming.releaseReferences([{ handlerton: reclaiming.name, blobId: doomed.blobId, revision: doomed.revision }]);
    t.is((await reclaiming.reclaim()).revisions, 1);
    t.is((await cacheFiles(dir)).length, 2, 'the other client cannot see this directory');
    // A dead fill's temporary file (untouched for an hour), a live one, and a file that is not the cache's.
    const stale = `${'0'.repeat(16)}-${'0'.repeat(15)}1-${'0'.repeat(15)}1.blob.tmp-999999-abcdef`;
    const live = `${'0'.repeat(16)}-${'0'.repeat(15)}1-${'0'.repeat(15)}2.blob.tmp-999999-abcdef`;
    for (const name of [stale, live, 'notes.txt']) await writeFile(join(dir, name), 'x');
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(join(dir, stale), hourAgo, hourAgo);
    reading = await openBlobs(schema, dir);
    await waitFor(async () => (await cacheFiles(dir)).length === 1 && !(await readdir(dir)).includes(stale));
    t.deepEqual((await readdir(dir)).filter((n) => !n.endsWith('.blob')).sort(), [live, 'notes.txt'].sort(), 'the stale temporary file went, the others stay');
    const left = await cacheFiles(dir);
    t.is(left.length, 1, 'the reclaimed revision\'s file is gone');
    t.true(left[0]!.endsWith(`${kept.revision.toString(16).padStart(16, '0')}.blob`), 'the live revision\'s file stays');
  } finally {
    await Promise.all([reading.close(), reclaiming.close()]);
  }
});

pgTest('a revision larger than 90% of the budget is read from the server and never cached (it would evict itself)', async (t) => {
  const { schema, dir } = await withCase(t, 'cbig');
  const blobs = await openBlobs(schema, dir, MIB);
  try {
    const bytes = content(15 * CHUNK, 7);
    const big = await commitBlob(blobs, bytes);
    t.true(Buffer.from(await readAll(blobs, big.blobId, big.revision)).equals(bytes));
    t.deepEqual(await readdir(dir), []);
  } finally {
    await blobs.close();
  }
});

pgTest('closing during a fill abandons it: close returns, no temporary or partial file is left', async (t) => {
  const { schema, dir } = await withCase(t, 'cclose');
  const blobs = await openBlobs(schema, dir);
  const big = await commitBlob(blobs, content(64 * CHUNK, 9));
  const reader = await blobs.openRevision(big.blobId, big.revision);
  const reading = reader.read(new Uint8Array(CHUNK), 0).then(
    (n) => `read ${n}`,
    (error: unknown) => (error as Error).name,
  );
  // Wait until the fill has written its temporary file, then close under it.
  await waitFor(async () => (await readdir(dir)).some((n) => n.includes('.tmp-')), 5_000);
  await blobs.close();
  const outcome = await reading;
  t.true(outcome === `read ${CHUNK}` || outcome === 'StorageClosedError', outcome);
  await reader.close();
  t.deepEqual((await readdir(dir)).filter((n) => n.includes('.tmp-')), [], 'no temporary file left');
  for (const name of await cacheFiles(dir)) t.is((await stat(join(dir, name))).size, 64 * CHUNK, 'only a complete file, if the fill finished first');
});

pgTest('close while reads wait for a pool connection (no cache): every read settles, none hangs', async (t) => {
  const schema = server!.newSchemaName('cclose2');
  t.teardown(() => server!.dropSchema(schema));
  const options = plugin.parseOptions({ location: server!.url, options: { schema, poolSize: 2 }, configPath: 'blobs' });
  const blobs = await plugin.createBlobHandlerton!(options, { clock: systemClock, logger: silentLogger, fs });
  const { blobId, revision } = await commitBlob(blobs, content(8 * 256 * 1024, 8));
  const reader = await blobs.openRevision(blobId, revision);
  // Six reads on a pool of two: four wait for a connection when close() ends the pool.
  const reads = [...Array(6).keys()].map((i) => reader.read(new Uint8Array(256 * 1024), i * 256 * 1024).then((n) => `read ${n}`, (error: unknown) => (error as Error).name));
  await new Promise((resolve) => setTimeout(resolve, 1));
  await blobs.close();
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('hung'), 10_000).unref());
  const outcomes = await Promise.race([Promise.all(reads), timeout]);
  t.not(outcomes, 'hung', 'every read settled');
  for (const outcome of outcomes) t.true(outcome === `read ${256 * 1024}` || outcome === 'StorageClosedError', outcome);
});

pgTest('without the cache, a revision reclaimed by another client under an open reader raises POSKeyError, never zeros', async (t) => {
  const schema = server!.newSchemaName('cgone');
  t.teardown(() => server!.dropSchema(schema));
  const open = () => plugin.createBlobHandlerton!(plugin.parseOptions({ location: server!.url, options: { schema, poolSize: 2, chunkSize: CHUNK }, configPath: 'blobs' }), { clock: systemClock, logger: silentLogger, fs });
  const [reading, reclaiming] = [await open(), await open()];
  try {
    const { blobId, revision } = await commitBlob(reading, content(4 * CHUNK, 12));
    const reader = await reading.openRevision(blobId, revision);
    t.is(await reader.read(new Uint8Array(CHUNK), 0), CHUNK);
    await reclaiming.releaseReferences([{ handlerton: reclaiming.name, blobId, revision }]);
    t.is((await reclaiming.reclaim()).revisions, 1);
    await t.throwsAsync(reader.read(new Uint8Array(CHUNK), 2 * CHUNK), { instanceOf: POSKeyError, message: /reclaimed by another client/ });
    await reader.close();
  } finally {
    await Promise.all([reading.close(), reclaiming.close()]);
  }
});

pgTest('two processes share one directory, one evicting all the time: every read of both is right, the budget holds', async (t) => {
  const { schema, dir } = await withCase(t, 'cprocs');
  const setup = await openBlobs(schema, dir);
  const specs: string[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const bytes = content(9 * CHUNK + i * 1000, 10 + i);
      const { blobId, revision } = await commitBlob(setup, bytes);
      specs.push(`${blobId}:${revision}:${sha(bytes)}`);
    }
  } finally {
    await setup.close();
  }
  const fixture = fileURLToPath(new URL('./fixtures/cache-reader.js', import.meta.url));
  const runChild = (bytes: number, rounds: number) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [fixture, server!.url, schema, dir, String(bytes), String(rounds), ...specs], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      child.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`a reader exited with ${code}: ${out}`))));
    });
  // One with a 1 MiB budget (two of the four revisions do not fit: it evicts on nearly every fill), one with room for all.
  const outputs = await Promise.all([runChild(MIB, 6), runChild(64 * MIB, 6)]);
  t.deepEqual(outputs, ['ok 24', 'ok 24']);
  t.deepEqual((await readdir(dir)).filter((n) => n.includes('.tmp-')), [], 'no temporary file left');
  // A third client with the small budget scans on open: files the other process made are evicted too.
  const small = await openBlobs(schema, dir, MIB);
  try {
    await waitFor(async () => (await dirBytes(dir)) <= MIB);
    t.true((await dirBytes(dir)) <= MIB, 'within the 1 MiB budget after a scan');
    const sizes = [0, 1, 2, 3].map((i) => 9 * CHUNK + i * 1000);
    for (const name of await cacheFiles(dir)) t.true(sizes.includes((await stat(join(dir, name))).size), `${name} is a whole revision`);
  } finally {
    await small.close();
  }
});

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await cacheFiles(dir)) total += (await stat(join(dir, name)).catch(() => ({ size: 0 }))).size;
  return total;
}

async function waitFor(condition: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
}
