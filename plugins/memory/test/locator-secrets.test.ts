/** Locator keys: configured secrets (and their rotation) and the storage's per-database secret. */
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { createDatabase, InvalidConfigError, InvalidLocatorError, Locator, resolveConfig, type Database, type DatabaseConfig, type Oid } from '@handlerton/framework';
import { MemoryBlobHandlerton, MemoryStorage } from '../src/index.js';
import { dec, enc } from './database-helpers.js';

/** A memory storage that keeps a per-database locator secret, as a durable engine does. */
class KeyedMemoryStorage extends MemoryStorage {
  calls = 0;
  constructor(private readonly secret: Uint8Array | null) {
    super();
  }
  locatorSecret(): Promise<Uint8Array | null> {
    this.calls += 1;
    return Promise.resolve(this.secret);
  }
}

/** The locator string of the committed revision of blob `oid`. */
async function committedLocator(db: Database, oid: Oid): Promise<string> {
  const snap = await db.snapshot();
  try {
    return (await snap.blob(oid)).locator().toString();
  } finally {
    await snap.close();
  }
}

const secretA = 'secret A of 16+ characters';

test('locatorSecret accepts a string or a non-empty array of 16+ character strings', (t) => {
  t.deepEqual(resolveConfig({ engine: 'memory', locatorSecret: secretA }).locatorSecret, [secretA]);
  t.deepEqual(resolveConfig({ engine: 'memory', locatorSecret: [secretA, 'secret B of 16+ characters'] }).locatorSecret, [secretA, 'secret B of 16+ characters']);
  t.is(resolveConfig({ engine: 'memory' }).locatorSecret, undefined);
  const cases: Array<[unknown, string]> = [
    [[], 'locatorSecret'],
    [{ 0: secretA }, 'locatorSecret'],
    [[secretA, 'short'], 'locatorSecret[1]'],
    [[secretA, 42], 'locatorSecret[1]'],
    [['', secretA], 'locatorSecret[0]'],
    // eslint-disable-next-line no-sparse-arrays
    [[, secretA], 'locatorSecret[0]'],
    [[secretA, null], 'locatorSecret[1]'],
  ];
  for (const [locatorSecret, option] of cases) {
    const error = t.throws(() => resolveConfig({ engine: 'memory', locatorSecret } as unknown as DatabaseConfig), { instanceOf: InvalidConfigError });
    t.is(error?.option, option, `locatorSecret ${JSON.stringify(locatorSecret)}`);
    t.true(error?.message.includes(option), error?.message);
  }
});

test('without a configured secret the storage per-database secret signs: a second Database over it opens the locator', async (t) => {
  const storage = new KeyedMemoryStorage(randomBytes(32));
  const blobs = new MemoryBlobHandlerton();
  const db1 = await createDatabase({ storage, blobs });
  const locator = await db1.transaction(async (tx) => {
    const blob = await tx.createBlob();
    await (await blob.open('w')).write('kept');
    await tx.write(0n, enc('root'), { refs: [blob.oid] });
    return blob.oid;
  }).then((oid) => committedLocator(db1, oid));
  const db2 = await createDatabase({ storage, blobs });
  t.is(dec(await (await db2.openLocator(locator)).read()), 'kept');
  t.true(storage.calls >= 2);
  // An altered locator (write access added) still fails: the MAC covers every field.
  const bytes = Locator.from(locator).toBytes();
  bytes[1] = 7;
  await t.throwsAsync(db2.openLocator(Locator.fromBytes(bytes)), { instanceOf: InvalidLocatorError, message: /MAC/ });
  await db2.close();
});

test('a storage that keeps no secret (null) gets a random key per Database: locators do not carry over', async (t) => {
  const storage = new KeyedMemoryStorage(null);
  const blobs = new MemoryBlobHandlerton();
  const db1 = await createDatabase({ storage, blobs });
  const locator = await db1.transaction(async (tx) => {
    const blob = await tx.createBlob();
    await (await blob.open('w')).write('only here');
    await tx.write(0n, enc('root'), { refs: [blob.oid] });
    return blob.oid;
  }).then((oid) => committedLocator(db1, oid));
  t.is(dec(await (await db1.openLocator(locator)).read()), 'only here');
  const db2 = await createDatabase({ storage, blobs });
  await t.throwsAsync(db2.openLocator(locator), { instanceOf: InvalidLocatorError, message: /MAC/ });
  await db2.close();
});
