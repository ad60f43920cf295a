/** A damaged record b-tree page must not turn an existing record into "absent": misses are confirmed (miss-check.ts). */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { CorruptionError, type Tid } from '@handlerton/framework';
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
 * Flips the sign bit of the oid stored in the first cell of the root page of `object_revision`
 * (an interior page of the index b-tree a WITHOUT ROWID table is). In such a b-tree, interior cells
 * are rows too. Returns the oid whose row that was.
 */
function damageRootCellOid(file: string): bigint {
  const db = new Database(file, { readonly: true });
  const root = Number((db.prepare("select rootpage from sqlite_schema where name = 'object_revision'").get() as { rootpage: number }).rootpage);
  db.close();
  const bytes = readFileSync(file);
  const page = (root - 1) * PAGE;
  if (bytes[page] !== 0x02) throw new Error(`root page ${root} is not an interior index page (type ${bytes[page]})`);
  const cell = page + bytes.readUInt16BE(page + 12);
  const [, payloadLength] = varint(bytes, cell + 4);
  const record = cell + 4 + payloadLength;
  const [headerSize] = varint(bytes, record);
  const [serialType] = varint(bytes, record + 1);
  if (serialType !== 1) throw new Error(`oid of the root cell has serial type ${serialType}, expected a 1-byte integer`);
  const at = record + headerSize;
  const oid = BigInt(bytes[at]!);
  bytes[at]! ^= 0x80;
  writeFileSync(file, bytes);
  return oid;
}

/** A closed records file with oids 1..40 but GAP, one revision each, several b-tree pages deep. */
async function closedDatabase(dir: string): Promise<{ options: ReturnType<typeof optionsIn>; tid: Tid }> {
  const options = optionsIn(dir);
  const storage = await SqliteStorage.open(options);
  const writes: [bigint, Tid, string][] = [];
  for (let oid = 1n; oid <= 40n; oid++) if (oid !== GAP) writes.push([oid, 0n, `object ${oid} `.repeat(60)]);
  const tid = await commit(storage, writes);
  await storage.close();
  return { options, tid };
}

test('a record whose b-tree cell key is damaged raises CorruptionError on load and loadBefore, not "absent"', async (t) => {
  const { options, tid } = await closedDatabase(await tempDir(t));
  const file = roleFile(options.location, 'records');
  const oid = damageRootCellOid(file);
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  for (const [what, read] of [
    ['load', () => storage.load(oid)],
    ['loadBefore', () => storage.loadBefore(oid, tid + 1n)],
    ['loadSerial', () => storage.loadSerial(oid, tid)],
  ] as const) {
    const error = await t.throwsAsync(read());
    t.true(error instanceof CorruptionError, `${what}: ${String(error)}`);
    t.is((error as CorruptionError).file, file, what);
  }
  // The damaged key sorts below every oid, so seeks go right of it: the last oid is still reached.
  t.is(text((await storage.load(40n)).data), `object 40 `.repeat(60), 'rows away from the damage still read');
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
  for (const read of [() => storage.load(GAP), () => storage.loadBefore(GAP, tid + 1n), () => storage.loadSerial(GAP, tid), () => storage.loadSerial(1n, tid - 1n)]) {
    await t.throwsAsync(read(), { code: 'HANDLERTON_POS_KEY' });
  }
  t.is(await storage.loadBefore(1n, tid), null, 'created at tid: nothing before it');
  t.is(await storage.loadBefore(40n, 1n), null);
  await t.throwsAsync(storage.load(41n), { code: 'HANDLERTON_POS_KEY' });
});
