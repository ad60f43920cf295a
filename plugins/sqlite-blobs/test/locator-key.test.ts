/** The per-database locator key file (`<path>-locator.key`): locators survive a reopen without locatorSecret. */
import realFs, { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { CorruptionError, InvalidLocatorError, Locator, openDatabase, type Database } from '@handlerton/framework';
import { SqliteStorage } from '../src/index.js';
import { locatorKeyFile } from '../src/locator-key.js';
import { optionsIn, tempDir } from './helpers.js';

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

test('without locatorSecret a locator made before close opens after a reopen; the key file is 32 bytes at mode 0600', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'db.sqlite');
  const db1 = await openDatabase(`sqlite:${path}`);
  const locator = await committedLocator(db1, 'survives');
  await db1.close();
  const key = statSync(locatorKeyFile(path));
  t.is(key.mode & 0o777, 0o600);
  t.is(key.size, 32);
  t.false(readdirSync(dir).some((name) => name.endsWith('.tmp')));
  const db2 = await openDatabase(`sqlite:${path}`);
  t.teardown(() => db2.close());
  t.is(dec(await (await db2.openLocator(locator)).read()), 'survives');
  const bytes = Locator.from(locator).toBytes();
  bytes[1] = 7; // add write and append access
  await t.throwsAsync(db2.openLocator(Locator.fromBytes(bytes)), { instanceOf: InvalidLocatorError, message: /MAC/ });
});

test('rotation: a locator signed with the old secret opens with [new, old] and not with [new]; no key file is written', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'db.sqlite');
  const oldSecret = 'the old secret, 16+ characters';
  const newSecret = 'the new secret, 16+ characters';
  const db1 = await openDatabase({ engine: 'sqlite', path, locatorSecret: oldSecret });
  const locator = await committedLocator(db1, 'old');
  await db1.close();
  t.false(readdirSync(dir).some((name) => name.endsWith('-locator.key')));
  const db2 = await openDatabase({ engine: 'sqlite', path, locatorSecret: [newSecret, oldSecret] });
  t.is(dec(await (await db2.openLocator(locator)).read()), 'old');
  await db2.close();
  const db3 = await openDatabase({ engine: 'sqlite', path, locatorSecret: [newSecret] });
  t.teardown(() => db3.close());
  await t.throwsAsync(db3.openLocator(locator), { instanceOf: InvalidLocatorError, message: /MAC/ });
});

test('locatorSecret() is stable across calls and reopen; a key file of the wrong size is a CorruptionError', async (t) => {
  const dir = await tempDir(t);
  const options = optionsIn(dir);
  const first = await SqliteStorage.open(options);
  const secret = await first.locatorSecret();
  t.is(secret?.length, 32);
  t.deepEqual(await first.locatorSecret(), secret);
  await first.close();
  const second = await SqliteStorage.open(options);
  t.deepEqual(await second.locatorSecret(), secret);
  await second.close();
  writeFileSync(locatorKeyFile(options.location), Buffer.alloc(3));
  const third = await SqliteStorage.open(options);
  t.teardown(() => third.close());
  await t.throwsAsync(third.locatorSecret(), { instanceOf: CorruptionError, message: /locator\.key/ });
});

test('a short write of the new key file is continued: the database reopens with a whole 32-byte key (fault sweep: short write at op 6)', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'db.sqlite');
  const keyFds = new Set<number>();
  let shortWrites = 0;
  const shortFs = new Proxy(realFs, {
    get(target, name, receiver) {
      if (name === 'open') {
        return (file: string, ...rest: unknown[]) => {
          const cb = rest.pop() as (error: NodeJS.ErrnoException | null, fd: number) => void;
          (target.open as (...args: unknown[]) => void)(file, ...rest, (error: NodeJS.ErrnoException | null, fd: number) => {
            if (error === null && /-locator\.key\..*\.tmp$/.test(String(file))) keyFds.add(fd);
            cb(error, fd);
          });
        };
      }
      if (name === 'write') {
        return (fd: number, buffer: Uint8Array, offset: number, length: number, position: number, cb: (error: NodeJS.ErrnoException | null, n: number) => void) => {
          // The first write to the key's temporary file takes only half of the bytes, as a real write may.
          const take = keyFds.has(fd) && shortWrites++ === 0 ? Math.floor(length / 2) : length;
          target.write(fd, buffer, offset, take, position, cb);
        };
      }
      return Reflect.get(target, name, receiver) as unknown;
    },
  });
  const db1 = await openDatabase(`sqlite:${path}`, { fs: shortFs });
  const locator = await committedLocator(db1, 'whole key');
  await db1.close();
  t.is(shortWrites >= 1, true);
  t.is(statSync(locatorKeyFile(path)).size, 32);
  const db2 = await openDatabase(`sqlite:${path}`);
  t.teardown(() => db2.close());
  t.is(dec(await (await db2.openLocator(locator)).read()), 'whole key');
});
