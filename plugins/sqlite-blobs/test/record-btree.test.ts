/** A damaged b-tree page of `object_current` or `revision` must not turn an existing record into "absent": misses are confirmed (miss-check.ts). */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { CorruptionError, storageTransaction, type Tid } from '@handlerton/framework';
import { roleFile } from '../src/connection.js';
import { SqliteStorage } from '../src/index.js';
import { commit, optionsIn, tempDir, text } from './helpers.js';

const PAGE = 4096;
/** Oid never stored, inside the range of stored oids: a genuine miss. */
const GAP = 20n;

/** Reads a SQLite varint at `at`: [value, length]. */
function varint(bytes: Buffer, at: number): [number, number] {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    const byte = bytes[at + i]!;
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) return [value, i + 1];
  }
  return [value * 256 + bytes[at + 8]!, 9];
}

/**
 * Flips the sign bit of the first key column stored in the first cell of the root page of `table`
 * (an interior page of the index b-tree a WITHOUT ROWID table is: its cells are rows too), so that
 * row sorts below every other and seeks for its real key go right of it. Returns the first two
 * columns of that row as stored before the damage.
 */
function damageRootCellKey(file: string, table: 'object_current' | 'revision'): [bigint, bigint] {
  const db = new Database(file, { readonly: true });
  const root = Number((db.prepare('select rootpage from sqlite_schema where name = ?').get(table) as { rootpage: number }).rootpage);
  db.close();
  const bytes = readFileSync(file);
  const page = (root - 1) * PAGE;
  if (bytes[page] !== 0x02) throw new Error(`root page ${root} of ${table} is not an interior index page (type ${bytes[page]})`);
  const cell = page + bytes.readUInt16BE(page + 12);
  const [, payloadLength] = varint(bytes, cell + 4);
  const record = cell + 4 + payloadLength;
  const [headerSize, headerSizeLength] = varint(bytes, record);
  const [firstType, firstTypeLength] = varint(bytes, record + headerSizeLength);
  const [secondType] = varint(bytes, record + headerSizeLength + firstTypeLength);
  const at = record + headerSize;
  const first = integerAt(bytes, at, firstType);
  const second = integerAt(bytes, at + INTEGER_SIZES[firstType]!, secondType);
  bytes[at]! ^= 0x80; // big-endian: the first byte holds the sign
  writeFileSync(file, bytes);
  return [first, second];
}

/** Bytes of SQLite's integer serial types 1-6. */
const INTEGER_SIZES: Readonly<Record<number, number>> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8 };

/** The big-endian two's-complement integer of serial type `type` at `at`. */
function integerAt(bytes: Buffer, at: number, type: number): bigint {
  const size = INTEGER_SIZES[type];
  if (size === undefined) throw new Error(`serial type ${type} is not an integer`);
  return BigInt.asIntN(size * 8, BigInt(`0x${bytes.subarray(at, at + size).toString('hex')}`));
}

/** Highest oid stored by closedDatabase. */
const OBJECTS = 1200n;

/**
 * A closed records file with oids 1..OBJECTS but GAP, one revision each: several b-tree pages deep
 * in both `revision` and `object_current`.
 */
async function closedDatabase(dir: string): Promise<{ options: ReturnType<typeof optionsIn>; tid: Tid }> {
  const options = optionsIn(dir);
  const storage = await SqliteStorage.open(options);
  const writes: [bigint, Tid, string][] = [];
  for (let oid = 1n; oid <= OBJECTS; oid++) if (oid !== GAP) writes.push([oid, 0n, `object ${oid} `.repeat(20)]);
  const tid = await commit(storage, writes);
  await storage.close();
  return { options, tid };
}

test('an object_current cell whose key is damaged raises CorruptionError on load, loadBefore and history, not "absent"', async (t) => {
  const { options, tid } = await closedDatabase(await tempDir(t));
  const file = roleFile(options.location, 'records');
  const [oid] = damageRootCellKey(file, 'object_current');
  t.true(oid > GAP && oid < OBJECTS, `damaged the pointer of oid ${oid}`);
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  for (const [what, read] of [
    ['load', () => storage.load(oid)],
    ['loadBefore', () => storage.loadBefore(oid, tid + 1n)],
    ['history', () => storage.history(oid)],
  ] as const) {
    const error = await t.throwsAsync(read());
    t.true(error instanceof CorruptionError, `${what}: ${String(error)}`);
    t.is((error as CorruptionError).file, file, what);
  }
  t.is(text((await storage.loadSerial(oid, tid)).data), `object ${oid} `.repeat(20), 'its revision row is intact');
  t.is(text((await storage.load(OBJECTS)).data), `object ${OBJECTS} `.repeat(20), 'rows away from the damage still read');
});

test('a revision cell whose key is damaged raises CorruptionError on loadSerial, load and loadBefore, not "absent"', async (t) => {
  const { options, tid } = await closedDatabase(await tempDir(t));
  const file = roleFile(options.location, 'records');
  const [storedTid, oid] = damageRootCellKey(file, 'revision');
  t.is(storedTid, tid);
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  for (const [what, read] of [
    ['loadSerial', () => storage.loadSerial(oid, tid)],
    ['load', () => storage.load(oid)],
    ['loadBefore', () => storage.loadBefore(oid, tid + 1n)],
  ] as const) {
    const error = await t.throwsAsync(read());
    t.true(error instanceof CorruptionError, `${what}: ${String(error)}`);
    t.is((error as CorruptionError).file, file, what);
  }
  // The damaged key sorts below every row, so seeks go right of it: the last row is still reached.
  t.is(text((await storage.load(OBJECTS)).data), `object ${OBJECTS} `.repeat(20), 'rows away from the damage still read');
});

test('genuine misses stay POSKeyError (null for an object created later) on an undamaged file', async (t) => {
  const dir = await tempDir(t);
  const { options, tid } = await closedDatabase(dir);
  // A copy keeps the test independent of the first file's fate.
  const copy = optionsIn(join(dir, 'copy'));
  mkdirSync(join(dir, 'copy'));
  copyFileSync(roleFile(options.location, 'records'), roleFile(copy.location, 'records'));
  const storage = await SqliteStorage.open(copy);
  t.teardown(() => storage.close());
  for (const read of [
    () => storage.load(GAP),
    () => storage.loadBefore(GAP, tid + 1n),
    () => storage.history(GAP),
    () => storage.loadSerial(GAP, tid),
    () => storage.loadSerial(1n, tid - 1n),
    () => storage.loadSerial(OBJECTS, tid + 1n),
  ]) {
    await t.throwsAsync(read(), { code: 'HANDLERTON_POS_KEY' });
  }
  t.is(await storage.loadBefore(1n, tid), null, 'created at tid: nothing before it');
  t.is(await storage.loadBefore(OBJECTS, 1n), null);
  await t.throwsAsync(storage.load(OBJECTS + 1n), { code: 'HANDLERTON_POS_KEY' });
  // An object a pack removed has no pointer any more: still a genuine miss.
  const txn = storageTransaction();
  await storage.tpcBegin(txn);
  await storage.deleteObject(2n, tid, txn);
  await storage.tpcVote(txn);
  const deleted = await storage.tpcFinish(txn);
  await storage.pack(deleted);
  await t.throwsAsync(storage.load(2n), { code: 'HANDLERTON_POS_KEY' });
  await t.throwsAsync(storage.loadBefore(2n, deleted + 1n), { code: 'HANDLERTON_POS_KEY' });
});
