/** The Database's record cache over the memory engine: hits, MVCC, other writers, bounds and the config option. */
import test from 'ava';
import {
  createDatabase,
  InvalidConfigError,
  openDatabase,
  storageTransaction,
  type Invalidations,
  type Oid,
  type Storage,
  type Tid,
} from '@handlerton/framework';
import { MemoryBlobHandlerton, MemoryStorage } from '../src/index.js';
import { dec, enc } from './database-helpers.js';

/** A memory storage whose record reads are counted (and which can report invalidations). */
function countingStorage(withInvalidations = false): { storage: Storage; raw: MemoryStorage; reads: () => number; polls: Tid[] } {
  const raw = new MemoryStorage();
  let reads = 0;
  const polls: Tid[] = [];
  const changed: { tid: Tid; oids: Oid[] }[] = [];
  const storage = new Proxy(raw, {
    get(target, key, receiver) {
      if (key === 'load' || key === 'loadBefore' || key === 'loadSerial') {
        return (...args: unknown[]) => {
          reads += 1;
          return (Reflect.get(target, key, target) as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      if (key === 'invalidationsSince') {
        if (!withInvalidations) return undefined;
        return async (since: Tid): Promise<Invalidations> => {
          polls.push(since);
          return { tid: target.lastTransaction(), oids: changed.filter((c) => c.tid > since).flatMap((c) => c.oids) };
        };
      }
      if (key === 'noteForeign') return (tid: Tid, oids: Oid[]) => changed.push({ tid, oids });
      const value = Reflect.get(target, key, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as MemoryStorage;
  return { storage, raw, reads: () => reads, polls };
}

async function dbOver(storage: Storage, recordCacheBytes?: number) {
  return createDatabase({ storage, blobs: new MemoryBlobHandlerton(), ...(recordCacheBytes === undefined ? {} : { recordCacheBytes }) });
}

/** Commits `data` to `oid` on the raw engine, bypassing the database (another writer). */
async function commitRaw(storage: Storage, oid: Oid, serial: Tid, data: string): Promise<Tid> {
  const txn = storageTransaction();
  await storage.tpcBegin(txn);
  await storage.store(oid, serial, { data: enc(data), refs: { oids: [], blobs: [] } }, txn);
  await storage.tpcVote(txn);
  return storage.tpcFinish(txn);
}

test('writes to objects the cache holds cost no storage read, and the commit refills the cache', async (t) => {
  const { storage, reads } = countingStorage();
  const db = await dbOver(storage);
  const oids = await db.transaction(async (tx) => Promise.all(Array.from({ length: 100 }, (_, i) => tx.create(enc(`v0-${i}`)))));
  const before = reads();
  for (let round = 1; round <= 3; round++) {
    await db.transaction(async (tx) => {
      for (const [i, oid] of oids.entries()) await tx.write(oid, enc(`v${round}-${i}`));
    });
  }
  t.is(reads() - before, 0, 'no engine read for 300 writes of cached objects');
  const read = await db.transaction(async (tx) => dec((await tx.read(oids[7]!)).data));
  t.is(read, 'v3-7');
  const stats = db.recordCacheStats();
  t.truthy(stats);
  t.true(stats!.hits >= 300);
  t.true(stats!.bytes > 0 && stats!.bytes <= stats!.maxBytes);
  await db.close();
});

test('with the cache off, a write of an object the transaction read costs no second storage read', async (t) => {
  const { storage, reads } = countingStorage();
  const db = await dbOver(storage, 0);
  t.is(db.recordCacheStats(), undefined);
  const oid = await db.transaction(async (tx) => tx.create(enc('a')));
  const before = reads();
  await db.transaction(async (tx) => {
    await tx.read(oid);
    await tx.write(oid, enc('b'));
    await tx.read(oid);
  });
  t.is(reads() - before, 1);
  await db.close();
});

test('a snapshot older than a cached revision reads the revision of its own tid', async (t) => {
  const { storage } = countingStorage();
  const db = await dbOver(storage);
  const oid = await db.transaction(async (tx) => tx.create(enc('old')));
  const old = await db.snapshot();
  t.is(dec((await old.read(oid)).data), 'old');
  await db.transaction(async (tx) => tx.write(oid, enc('new')));
  // Both revisions are now cached (the old one ended at the new commit's tid).
  t.is(dec((await old.read(oid)).data), 'old');
  const current = await db.snapshot();
  t.is(dec((await current.read(oid)).data), 'new');
  t.is(dec((await old.read(oid)).data), 'old');
  await old.close();
  await current.close();
  await db.close();
});

test('a commit made on the raw engine beside the database is never hidden by the cache', async (t) => {
  const { storage } = countingStorage();
  const db = await dbOver(storage);
  const oid = await db.transaction(async (tx) => tx.create(enc('db')));
  t.is(await db.transaction(async (tx) => dec((await tx.read(oid)).data)), 'db');
  const serial = (await storage.load(oid)).tid;
  await commitRaw(storage, oid, serial, 'raw');
  t.is(await db.transaction(async (tx) => dec((await tx.read(oid)).data)), 'raw');
  // And a write based on it carries the right serial (no ConflictError from a stale cached serial).
  await db.transaction(async (tx) => tx.write(oid, enc('db2')));
  t.is(dec((await storage.load(oid)).data), 'db2');
  await db.close();
});

test('an engine reporting invalidations has only the changed objects forgotten', async (t) => {
  const { storage, reads, polls } = countingStorage(true);
  const db = await dbOver(storage);
  const [a, b] = await db.transaction(async (tx) => [await tx.create(enc('a0')), await tx.create(enc('b0'))]);
  const serial = (await storage.load(a!)).tid;
  const foreign = await commitRaw(storage, a!, serial, 'a1');
  (storage as unknown as { noteForeign(tid: Tid, oids: Oid[]): void }).noteForeign(foreign, [a!]);
  const before = reads();
  const seen = await db.transaction(async (tx) => [dec((await tx.read(a!)).data), dec((await tx.read(b!)).data)]);
  t.deepEqual(seen, ['a1', 'b0']);
  t.is(reads() - before, 1, 'only the invalidated object is read again');
  t.is(polls.length, 1);
  await db.close();
});

test('the cache stays within its bound in bytes', async (t) => {
  const { storage } = countingStorage();
  const db = await dbOver(storage, 16 * 1024);
  await db.transaction(async (tx) => {
    for (let i = 0; i < 100; i++) await tx.create(new Uint8Array(1000));
  });
  const stats = db.recordCacheStats()!;
  t.true(stats.bytes <= 16 * 1024, `${stats.bytes} bytes held`);
  t.true(stats.evictions > 0);
  await db.close();
});

test('recordCacheBytes is checked: a negative or fractional bound is an InvalidConfigError naming it', async (t) => {
  for (const recordCacheBytes of [-1, 1.5, '64MB']) {
    const error = await t.throwsAsync(openDatabase({ engine: 'memory', recordCacheBytes } as never), { instanceOf: InvalidConfigError });
    t.is(error?.option, 'recordCacheBytes');
  }
  const off = await openDatabase({ engine: 'memory', recordCacheBytes: 0 });
  t.is(off.recordCacheStats(), undefined);
  await off.close();
  const on = await openDatabase('memory:');
  t.is(on.recordCacheStats()?.maxBytes, 64 * 1024 * 1024);
  await on.close();
});
