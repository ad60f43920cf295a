/** Record checksums and the WAL check: damaged record rows and WAL frames raise CorruptionError, never wrong bytes or silent loss. */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { CorruptionError, type Tid } from '@handlerton/framework';
import { acquireConnection, releaseConnection, roleFile } from '../src/connection.js';
import { MIGRATION_NAMES, SqliteStorage } from '../src/index.js';
import { commit, optionsIn, tempDir, text } from './helpers.js';

const UNIQUE = 'record-bytes-to-damage-0123456789';

/** Flips one byte of every occurrence of `needle` in `file`; false when not found. */
function flipIn(file: string, needle: string): boolean {
  const bytes = readFileSync(file);
  // Every copy: a migration that moved rows (0003) leaves the old one in a free page.
  let found = false;
  for (let at = bytes.indexOf(Buffer.from(needle)); at >= 0; at = bytes.indexOf(Buffer.from(needle), at + 1)) {
    bytes[at + 3]! ^= 0x20;
    found = true;
  }
  if (found) writeFileSync(file, bytes);
  return found;
}

test('a byte flipped in a record row (SQLite pages stay valid) raises CorruptionError naming the file, not wrong bytes', async (t) => {
  const options = optionsIn(await tempDir(t));
  const storage = await SqliteStorage.open(options);
  await commit(storage, [[1n, 0n, UNIQUE], [2n, 0n, 'other']]);
  await storage.close();
  const file = roleFile(options.location, 'records');
  t.true(flipIn(file, UNIQUE), 'the record bytes are in the closed file');
  const reopened = await SqliteStorage.open(options);
  t.teardown(() => reopened.close());
  t.is(String(reopened.connection.db.pragma('quick_check', { simple: true })), 'ok', 'SQLite sees nothing wrong');
  const error = await t.throwsAsync(reopened.load(1n));
  t.true(error instanceof CorruptionError, String(error));
  t.is((error as CorruptionError).file, file);
  t.is(text((await reopened.load(2n)).data), 'other');
  const iterated = (async () => {
    for await (const txn of reopened.iterator()) void txn;
  })();
  t.true((await t.throwsAsync(iterated)) instanceof CorruptionError, 'the iterator checks rows too');
});

test('migration 0002 checksums the records of an older file, and the backfilled checksums are checked', async (t) => {
  const options = optionsIn(await tempDir(t));
  const old = await acquireConnection(options.location, { ...options, migrateTo: MIGRATION_NAMES.records[0] }, 'records');
  old.db.prepare('insert into txn (tid, user, description, extension, status, oids) values (5, ?, ?, ?, ?, ?)').run('', '', '{}', ' ', Buffer.alloc(8));
  old.db.prepare('insert into object_revision (oid, tid, prev_tid, deleted, data, refs) values (1, 5, null, 0, ?, null)').run(Buffer.from(UNIQUE));
  await releaseConnection(old);
  const storage = await SqliteStorage.open(options);
  const crc = storage.connection.db.prepare('select crc from revision where oid = 1').get() as { crc: bigint | null };
  t.not(crc.crc, null);
  t.is(text((await storage.load(1n)).data), UNIQUE);
  await storage.close();
  t.true(flipIn(roleFile(options.location, 'records'), UNIQUE));
  const reopened = await SqliteStorage.open(options);
  t.teardown(() => reopened.close());
  t.true((await t.throwsAsync(reopened.load(1n))) instanceof CorruptionError);
});

/** Commits `count` transactions and copies the records file and its WAL while the storage is open (a killed process). */
async function walImage(t: ExecutionContext, count: number, extra: Parameters<typeof optionsIn>[1] = {}): Promise<{ options: ReturnType<typeof optionsIn>; tids: Tid[]; wal: string }> {
  const source = optionsIn(await tempDir(t), extra);
  const storage = await SqliteStorage.open(source);
  const tids: Tid[] = [];
  for (let i = 0; i < count; i++) tids.push(await commit(storage, [[BigInt(i + 1), 0n, `transaction ${i} `.repeat(50)]]));
  const options = optionsIn(await tempDir(t), extra);
  const from = roleFile(source.location, 'records');
  const to = roleFile(options.location, 'records');
  copyFileSync(from, to);
  copyFileSync(`${from}-wal`, `${to}-wal`);
  await storage.close();
  return { options, tids, wal: `${to}-wal` };
}

/** The frame offsets of a WAL with `pageSize` pages (read from its header). */
function frameOffsets(wal: string): number[] {
  const bytes = readFileSync(wal);
  const frameSize = 24 + bytes.readUInt32BE(8);
  const out: number[] = [];
  for (let at = 32; at + frameSize <= bytes.length; at += frameSize) out.push(at);
  return out;
}

test('a damaged WAL frame followed by later transactions is CorruptionError naming the WAL and offset, not a silent loss of them', async (t) => {
  const { options, tids, wal } = await walImage(t, 6);
  t.true(existsSync(wal));
  const frames = frameOffsets(wal);
  t.true(frames.length >= 6, `${frames.length} frames`);
  const bytes = readFileSync(wal);
  const damagedAt = frames[1]!;
  bytes[damagedAt + 24 + 100]! ^= 0x01; // a byte of the page image of frame 1
  writeFileSync(wal, bytes);
  const error = await t.throwsAsync(SqliteStorage.open(options));
  t.true(error instanceof CorruptionError, String(error));
  t.is((error as CorruptionError).file, wal);
  t.is((error as CorruptionError).offset, damagedAt);
  t.true(readFileSync(wal).equals(bytes), 'the WAL was left as it was');
  // SQLite alone would have opened it and dropped every later transaction
  const raw = new Database(roleFile(options.location, 'records'));
  let max: number | bigint | null = null;
  try {
    max = (raw.prepare('select max(tid) as tid from txn').get() as { tid: number | bigint | null }).tid;
  } catch {
    // the table itself was created in a dropped frame
  } finally {
    raw.close();
  }
  t.true(max === null || BigInt(max) < tids[tids.length - 1]!, 'without the check the later transactions vanish');
});

test('damage in the last transaction of the WAL only is a torn tail: the database opens without it', async (t) => {
  const { options, tids, wal } = await walImage(t, 4);
  const frames = frameOffsets(wal);
  const bytes = readFileSync(wal);
  const last = frames[frames.length - 1]!;
  bytes[last + 24 + 10]! ^= 0x01;
  writeFileSync(wal, bytes);
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  t.is(storage.lastTransaction(), tids[tids.length - 2]!);
  t.is(text((await storage.load(3n)).data), 'transaction 2 '.repeat(50));
});

test('a damaged key of the newest transaction row is CorruptionError at open, not a lastTransaction that was never committed', async (t) => {
  const options = optionsIn(await tempDir(t));
  const storage = await SqliteStorage.open(options);
  await commit(storage, [[1n, 0n, 'one']]);
  const last = await commit(storage, [[2n, 0n, 'two']]);
  await storage.close();
  const file = roleFile(options.location, 'records');
  const raw = new Database(file);
  raw.prepare('update txn set tid = tid + 65 where tid = ?').run(last); // what a flipped bit of the rowid varint does
  raw.close();
  const error = await t.throwsAsync(SqliteStorage.open(options));
  t.true(error instanceof CorruptionError, String(error));
  t.is((error as CorruptionError).file, file);
});

test('a damaged schema format number in the file header is CorruptionError naming the file, not an untyped SqliteError', async (t) => {
  const options = optionsIn(await tempDir(t));
  const storage = await SqliteStorage.open(options);
  await commit(storage, [[1n, 0n, 'one']]);
  await storage.close();
  const file = roleFile(options.location, 'records');
  const bytes = readFileSync(file);
  bytes[47] = 0x5b; // byte 47 is the low byte of the schema format number (1..4)
  writeFileSync(file, bytes);
  const error = await t.throwsAsync(SqliteStorage.open(options));
  t.true(error instanceof CorruptionError, String(error));
  t.is((error as CorruptionError).file, file);
});

test('a record row whose checksum reads as NULL (a damaged serial type) is CorruptionError, not an unchecked row', async (t) => {
  const options = optionsIn(await tempDir(t));
  const storage = await SqliteStorage.open(options);
  await commit(storage, [[1n, 0n, UNIQUE]]);
  await storage.close();
  const file = roleFile(options.location, 'records');
  const raw = new Database(file);
  raw.prepare("update revision set crc = null, data = cast('tampered' as blob) where oid = 1").run();
  raw.close();
  const reopened = await SqliteStorage.open(options);
  t.teardown(() => reopened.close());
  const error = await t.throwsAsync(reopened.load(1n));
  t.true(error instanceof CorruptionError, String(error));
});

test('with synchronous normal a damaged WAL frame before later frames is what a power cut leaves: the database opens (SQLite cuts there)', async (t) => {
  // NORMAL syncs the WAL only at checkpoints, so the disk may keep a later frame and tear an earlier one.
  const { options, wal } = await walImage(t, 6, { synchronous: 'normal' });
  const frames = frameOffsets(wal);
  const bytes = readFileSync(wal);
  bytes[frames[1]! + 24 + 100]! ^= 0x01;
  writeFileSync(wal, bytes);
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  t.true(storage.lastTransaction() >= 0n);
});
