/** Chunk checksums: damaged, missing or unmapped chunk bytes raise CorruptionError, never bad data or zeros. */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { blobTransaction, CorruptionError, type BlobHandlerton } from '@handlerton/framework';
import { acquireConnection, releaseConnection, roleFile } from '../src/connection.js';
import { MIGRATION_NAMES, SqliteBlobs, type SqliteOptions } from '../src/index.js';
import { optionsIn, tempDir } from './helpers.js';

const CHUNK = 64 * 1024;

async function commitBlob(blobs: BlobHandlerton, data: Uint8Array, tid: bigint): Promise<bigint> {
  const blobId = await blobs.createBlob();
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, null);
  await draft.write(data, 0);
  await blobs.addReferences(txn, [{ handlerton: 'sqlite-blobs', blobId, revision: tid }]);
  await blobs.prepare(txn, tid);
  await blobs.commit(txn);
  return blobId;
}

async function readAt(blobs: BlobHandlerton, blobId: bigint, revision: bigint, position: number, length: number): Promise<Uint8Array> {
  const reader = await blobs.openRevision(blobId, revision);
  try {
    const out = new Uint8Array(length);
    const n = await reader.read(out, position);
    return out.subarray(0, n);
  } finally {
    await reader.close();
  }
}

/** A second connection to the blob file, as another process would have. */
function rawBlobFile(t: ExecutionContext, options: SqliteOptions): Database.Database {
  const db = new Database(roleFile(options.location, 'blobs'), { timeout: 2000 });
  t.teardown(() => db.close());
  return db;
}

const CHUNK_OF = `select rc.chunk_id as id from revision_chunk rc join blob_revision br on br.id = rc.revision_id
  where br.blob_id = ? and br.revision = ? and rc.seq = ?`;

function assertNamesChunk(t: ExecutionContext, error: unknown, blobId: bigint, revision: bigint, offset: number, file: string): void {
  t.true(error instanceof CorruptionError);
  const message = (error as Error).message;
  t.true(message.includes(`blob ${blobId}`), message);
  t.true(message.includes(`revision ${revision}`), message);
  t.true(message.includes(`offset ${offset}`), message);
  t.is((error as CorruptionError).file, file);
}

test('chunk bytes changed behind the engine (an UPDATE without the checksum) raise CorruptionError naming blob, revision, offset and file', async (t) => {
  const options = optionsIn(await tempDir(t), { chunkSize: CHUNK });
  const blobs = await SqliteBlobs.open(options);
  t.teardown(() => blobs.close());
  const data = randomBytes(3 * CHUNK + 100);
  const blobId = await commitBlob(blobs, data, 500n);
  const raw = rawBlobFile(t, options);
  const { id } = raw.prepare(CHUNK_OF).get(blobId, 500n, 1) as { id: bigint | number };
  const damaged = Buffer.from(data.subarray(CHUNK, 2 * CHUNK));
  damaged[12345] ^= 0x40;
  raw.prepare('update chunk set data = ? where id = ?').run(damaged, id);

  // A partial read of another chunk verifies only that chunk: still good.
  t.deepEqual(await readAt(blobs, blobId, 500n, 10, 1000), new Uint8Array(data.subarray(10, 1010)));
  t.deepEqual(await readAt(blobs, blobId, 500n, 2 * CHUNK + 5, 50), new Uint8Array(data.subarray(2 * CHUNK + 5, 2 * CHUNK + 55)));
  const error = await t.throwsAsync(readAt(blobs, blobId, 500n, CHUNK + 20, 10));
  assertNamesChunk(t, error, blobId, 500n, CHUNK, blobs.connection.file);
  // A draft based on the revision reads through it, and is refused the same way.
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, 500n);
  await t.throwsAsync(draft.read(new Uint8Array(10), CHUNK + 20), { instanceOf: CorruptionError });
  await blobs.rollback(txn);
});

test('a mapped chunk whose row is gone, or a chunk whose mapping is gone, raises CorruptionError instead of reading zeros', async (t) => {
  const options = optionsIn(await tempDir(t), { chunkSize: CHUNK });
  const blobs = await SqliteBlobs.open(options);
  t.teardown(() => blobs.close());
  const data = randomBytes(3 * CHUNK);
  const blobId = await commitBlob(blobs, data, 600n);
  const raw = rawBlobFile(t, options);
  const { id } = raw.prepare(CHUNK_OF).get(blobId, 600n, 0) as { id: bigint | number };
  raw.prepare('delete from chunk where id = ?').run(id);
  raw.prepare('delete from revision_chunk where seq = 2 and revision_id = (select id from blob_revision where blob_id = ? and revision = ?)').run(blobId, 600n);
  assertNamesChunk(t, await t.throwsAsync(readAt(blobs, blobId, 600n, 0, 10)), blobId, 600n, 0, blobs.connection.file);
  assertNamesChunk(t, await t.throwsAsync(readAt(blobs, blobId, 600n, 2 * CHUNK + 1, 10)), blobId, 600n, 2 * CHUNK, blobs.connection.file);
  t.deepEqual(await readAt(blobs, blobId, 600n, CHUNK, 10), new Uint8Array(data.subarray(CHUNK, CHUNK + 10)));
});

/** Flips one byte inside every occurrence of `needle` in every file of `dir`; returns how many it flipped. */
function flipEverywhere(dir: string, needle: Uint8Array): number {
  let flipped = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    const bytes = readFileSync(path);
    let at = bytes.indexOf(needle);
    if (at < 0) continue;
    while (at >= 0) {
      bytes[at + (needle.length >> 1)] ^= 0x01;
      flipped += 1;
      at = bytes.indexOf(needle, at + needle.length);
    }
    writeFileSync(path, bytes);
  }
  return flipped;
}

test('a byte flipped in the blob file after close (the SQLite page stays valid) raises CorruptionError on reopen', async (t) => {
  const dir = await tempDir(t);
  const options = optionsIn(dir, { chunkSize: CHUNK });
  let blobs = await SqliteBlobs.open(options);
  const data = randomBytes(2 * CHUNK + 3000);
  const small = randomBytes(700); // stored inside a B-tree page rather than in overflow pages
  const blobId = await commitBlob(blobs, data, 700n);
  const smallId = await commitBlob(blobs, small, 701n);
  await blobs.close();
  // The WAL was checkpointed into the database at close: a copy left there cannot mask the damage.
  const wal = `${roleFile(options.location, 'blobs')}-wal`;
  t.true(!existsSync(wal) || statSync(wal).size === 0);
  t.is(flipEverywhere(dir, data.subarray(CHUNK + 4000, CHUNK + 4064)), 1);
  t.is(flipEverywhere(dir, small.subarray(300, 364)), 1);

  blobs = await SqliteBlobs.open(options);
  t.teardown(() => blobs.close());
  t.deepEqual(await readAt(blobs, blobId, 700n, 0, 100), new Uint8Array(data.subarray(0, 100)));
  assertNamesChunk(t, await t.throwsAsync(readAt(blobs, blobId, 700n, CHUNK, 10)), blobId, 700n, CHUNK, blobs.connection.file);
  assertNamesChunk(t, await t.throwsAsync(readAt(blobs, smallId, 701n, 0, 10)), smallId, 701n, 0, blobs.connection.file);
  // SQLite itself sees nothing wrong: the damage is in chunk bytes, caught only by the checksum.
  t.is(String(blobs.connection.db.pragma('quick_check', { simple: true })), 'ok');
});

/** A blob file at schema 0003 holding blob 1, revision 800: 3 chunks long, chunks 0 and 1 stored, chunk 2 an old-style hole. */
async function legacyFile(t: ExecutionContext): Promise<{ options: SqliteOptions; data: Uint8Array }> {
  const options = optionsIn(await tempDir(t), { chunkSize: CHUNK });
  const old = await acquireConnection(options.location, { ...options, migrateTo: MIGRATION_NAMES.blobs[2] }, 'blobs');
  const data = randomBytes(2 * CHUNK);
  const db = old.db;
  db.prepare('insert into blob (id, created) values (1, 0)').run();
  db.prepare(`insert into blob_revision (id, blob_id, revision, state, oid, size, chunk_size, refcount, token, base_id, base_limit, depth)
    values (1, 1, 800, 'committed', 1, ?, ?, 1, null, null, 0, 0)`).run(3 * CHUNK, CHUNK);
  for (let seq = 0; seq < 2; seq++) {
    const { lastInsertRowid } = db.prepare('insert into chunk (data) values (?)').run(data.subarray(seq * CHUNK, (seq + 1) * CHUNK));
    db.prepare('insert into revision_chunk (revision_id, seq, chunk_id, own) values (1, ?, ?, 1)').run(seq, lastInsertRowid);
  }
  await releaseConnection(old);
  return { options, data };
}

test('migration 0004 checksums the chunks of an older file (and keeps its unrecorded holes reading as zeros)', async (t) => {
  const { options, data } = await legacyFile(t);
  const blobs = await SqliteBlobs.open(options);
  t.teardown(() => blobs.close());
  const applied = blobs.connection.db.prepare('select name from kysely_migration order by name').all() as { name: string }[];
  t.deepEqual(applied.map((r) => r.name), [...MIGRATION_NAMES.blobs]);
  t.is(Number((blobs.connection.db.prepare('select count(*) as n from chunk where crc is null').get() as { n: bigint }).n), 0);
  t.deepEqual(await readAt(blobs, 1n, 800n, CHUNK - 5, 15), new Uint8Array(data.subarray(CHUNK - 5, CHUNK + 10)));
  t.deepEqual(await readAt(blobs, 1n, 800n, 2 * CHUNK + 7, 9), new Uint8Array(9));
  // The backfilled checksums are checked like new ones.
  const raw = rawBlobFile(t, options);
  raw.prepare("update chunk set data = zeroblob(10) where id = (select chunk_id from revision_chunk where seq = 1)").run();
  assertNamesChunk(t, await t.throwsAsync(readAt(blobs, 1n, 800n, CHUNK, 1)), 1n, 800n, CHUNK, blobs.connection.file);
});

test('an older revision with an unrecorded hole still reads zeros there through a deep, flattened chain of drafts', async (t) => {
  const { options, data } = await legacyFile(t);
  const blobs = await SqliteBlobs.open(options);
  t.teardown(() => blobs.close());
  let base = 800n;
  for (let i = 0; i < 12; i++) {
    const txn = blobTransaction();
    const draft = await blobs.createDraft(txn, 1n, 1n, base);
    await draft.write(Uint8Array.of(i), i);
    base = 900n + BigInt(i);
    await blobs.prepare(txn, base);
    await blobs.commit(txn);
  }
  t.deepEqual(await readAt(blobs, 1n, base, 2 * CHUNK + 7, 9), new Uint8Array(9));
  t.deepEqual(await readAt(blobs, 1n, base, CHUNK, 16), new Uint8Array(data.subarray(CHUNK, CHUNK + 16)));
  t.deepEqual(await readAt(blobs, 1n, base, 0, 12), Uint8Array.from({ length: 12 }, (_, i) => i));
});
