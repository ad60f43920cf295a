/** The per-database locator key file (LOCATOR_KEY): locators survive a reopen; rotation of configured secrets. */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { CorruptionError, InvalidLocatorError, Locator, openDatabase, type Database, type DatabaseConfig } from '@handlerton/framework';
import { LOCATOR_KEY_FILE } from '../src/storage/locator-key.js';
import { openStorage, tempDir } from './fs2-helpers.js';

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** Commits a blob holding `text` (referenced from the root) and returns the locator of its committed revision. */
async function committedLocator(db: Database, text: string): Promise<string> {
  const oid = await db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    await (await blob.open('w')).write(text);
    await tx.write(0n, enc('root'), { refs: [blob.oid] });
    return blob.oid;
  });
  const snap = await db.snapshot();
  try {
    return (await snap.blob(oid)).locator().toString();
  } finally {
    await snap.close();
  }
}

async function readLocator(db: Database, locator: string): Promise<string> {
  return dec(await (await db.openLocator(locator)).read());
}

test('without locatorSecret a locator made before close opens after a reopen; the key file is 32 bytes at mode 0600', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const db1 = await openDatabase(`filestorage2:${dir}`);
  const locator = await committedLocator(db1, 'survives');
  await db1.close();
  const key = statSync(join(dir, LOCATOR_KEY_FILE));
  t.is(key.mode & 0o777, 0o600);
  t.is(key.size, 32);
  t.false(readdirSync(dir).some((name) => name.endsWith('.tmp')));
  const db2 = await openDatabase(`filestorage2:${dir}`);
  t.teardown(() => db2.close());
  t.is(await readLocator(db2, locator), 'survives');
  // Forged or altered locators still fail: a raised revision, added write access.
  for (const [offset, value] of [[1, 7], [39, 0xff]] as const) {
    const bytes = Locator.from(locator).toBytes();
    bytes[offset] = value;
    await t.throwsAsync(db2.openLocator(Locator.fromBytes(bytes)), { instanceOf: InvalidLocatorError, message: /MAC/ });
  }
});

test('another database directory has another key: its locators are refused', async (t) => {
  const a = await tempDir();
  const b = await tempDir();
  t.teardown(async () => (await a.cleanup(), await b.cleanup()));
  const dbA = await openDatabase(`filestorage2:${a.dir}`);
  const locator = await committedLocator(dbA, 'a');
  await dbA.close();
  const dbB = await openDatabase(`filestorage2:${b.dir}`);
  t.teardown(() => dbB.close());
  await t.throwsAsync(dbB.openLocator(locator), { instanceOf: InvalidLocatorError, message: /MAC/ });
});

test('rotation: a locator signed with the old secret opens with [new, old] and not with [new]; a configured secret writes no key file', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const oldSecret = 'the old secret, 16+ characters';
  const newSecret = 'the new secret, 16+ characters';
  const config = (locatorSecret: string | string[]): DatabaseConfig => ({ engine: 'filestorage2', path: dir, locatorSecret });
  const db1 = await openDatabase(config(oldSecret));
  const oldLocator = await committedLocator(db1, 'old');
  await db1.close();
  t.false(readdirSync(dir).includes(LOCATOR_KEY_FILE));
  const db2 = await openDatabase(config([newSecret, oldSecret]));
  t.is(await readLocator(db2, oldLocator), 'old');
  const newLocator = await committedLocator(db2, 'new');
  await db2.close();
  const db3 = await openDatabase(config([newSecret]));
  t.teardown(() => db3.close());
  await t.throwsAsync(db3.openLocator(oldLocator), { instanceOf: InvalidLocatorError, message: /MAC/ });
  t.is(await readLocator(db3, newLocator), 'new', 'the first secret of the list signs');
  // Without the configured secrets the key file signs: neither locator opens.
  await db3.close();
  const db4 = await openDatabase(`filestorage2:${dir}`);
  t.teardown(() => db4.close());
  await t.throwsAsync(db4.openLocator(newLocator), { instanceOf: InvalidLocatorError });
});

test('a read-only open of a directory without a key file gets null and writes nothing; with one it reads the same bytes', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const writer = await openStorage(dir);
  await writer.close();
  const before = readdirSync(dir).sort();
  t.false(before.includes(LOCATOR_KEY_FILE));
  const reader = await openStorage(dir, { readOnly: true });
  t.is(await reader.locatorSecret(), null);
  await reader.close();
  t.deepEqual(readdirSync(dir).sort(), before);

  const writer2 = await openStorage(dir);
  const secret = await writer2.locatorSecret();
  t.deepEqual(await writer2.locatorSecret(), secret, 'stable across calls');
  await writer2.close();
  const reader2 = await openStorage(dir, { readOnly: true });
  t.deepEqual(await reader2.locatorSecret(), secret);
  await reader2.close();
  const writer3 = await openStorage(dir);
  t.deepEqual(await writer3.locatorSecret(), secret, 'stable across reopen');
  await writer3.close();
});

test('a read-only database without a key file opens with a random key and writes nothing to the directory', async (t) => {
  const { dir, cleanup } = await tempDir();
  const blobsDir = await tempDir();
  t.teardown(async () => (await cleanup(), await blobsDir.cleanup()));
  const writer = await openStorage(dir);
  await writer.close();
  const before = readdirSync(dir).sort();
  const config: DatabaseConfig = { storage: { engine: 'filestorage2', path: dir, options: { readOnly: true } }, blobs: `filestorage2:${blobsDir.dir}` };
  const db = await openDatabase(config);
  t.is(db.lastTransaction(), 0n);
  await db.close();
  t.deepEqual(readdirSync(dir).sort(), before);
});

test('a key file of the wrong size is a CorruptionError naming it', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const writer = await openStorage(dir);
  await writer.close();
  writeFileSync(join(dir, LOCATOR_KEY_FILE), Buffer.alloc(5));
  const storage = await openStorage(dir);
  t.teardown(() => storage.close());
  await t.throwsAsync(storage.locatorSecret(), { instanceOf: CorruptionError, message: new RegExp(LOCATOR_KEY_FILE) });
});
