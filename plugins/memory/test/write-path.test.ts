/** The Database API's write path: promises, private copies and batches the record cache tracks. */
import test from 'ava';
import { createDatabase, InvalidArgumentError, NO_REFS, POSKeyError, storageTransaction, TransactionClosedError, type Storage } from '@handlerton/framework';
import { MemoryBlobHandlerton, MemoryStorage } from '../src/index.js';
import { dec, enc } from './database-helpers.js';

/** A memory storage whose record reads are counted. */
function countingStorage(): { storage: Storage; reads: () => number } {
  const raw = new MemoryStorage();
  let reads = 0;
  const storage = new Proxy(raw, {
    get(target, key) {
      const value = Reflect.get(target, key, target) as unknown;
      if (typeof value !== 'function') return value;
      if (key === 'load' || key === 'loadBefore' || key === 'loadSerial') reads += 1;
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  }) as MemoryStorage;
  return { storage, reads: () => reads };
}

test('tx.write reports bad input and a closed transaction as rejected promises, on the cached path too', async (t) => {
  const db = await createDatabase({ storage: new MemoryStorage(), blobs: new MemoryBlobHandlerton() });
  const [cached] = await db.transaction(async (tx) => [await tx.create(enc('a'))]);
  await db.transaction(async (tx) => tx.read(cached!));
  const tx = db.begin();
  let rejected: Promise<void> | undefined;
  t.notThrows(() => void (rejected = tx.write(cached!, 'text' as never)), 'no synchronous throw');
  await t.throwsAsync(rejected!, { instanceOf: InvalidArgumentError });
  await t.throwsAsync(tx.write(-1n, enc('x')), { instanceOf: InvalidArgumentError, message: /oid/ });
  await t.throwsAsync(tx.write(999n, enc('x')), { instanceOf: POSKeyError });
  await tx.abort();
  let closed: Promise<void> | undefined;
  t.notThrows(() => void (closed = tx.write(cached!, enc('late'))));
  await t.throwsAsync(closed!, { instanceOf: TransactionClosedError });
  t.is(await db.transaction(async (r) => dec((await r.read(cached!)).data)), 'a');
  await db.close();
});

test('a write keeps the bytes as they were when written, on the cached path and when written twice', async (t) => {
  const db = await createDatabase({ storage: new MemoryStorage(), blobs: new MemoryBlobHandlerton() });
  const [a, b] = await db.transaction(async (tx) => [await tx.create(enc('a0')), await tx.create(enc('b0'))]);
  await db.transaction(async (tx) => {
    const buffer = enc('a1');
    await tx.write(a!, buffer);
    buffer.set(enc('XX'));
    const again = enc('b1');
    await tx.write(b!, enc('b-first'));
    await tx.write(b!, again);
    again.set(enc('YY'));
    t.is(dec((await tx.read(b!)).data), 'b1', 'the transaction reads its own last write');
  });
  t.deepEqual(await db.transaction(async (tx) => [dec((await tx.read(a!)).data), dec((await tx.read(b!)).data)]), ['a1', 'b1']);
  await db.close();
});

test('a storeMany batch naming one oid twice leaves its last record in the record cache, and later commits refill it', async (t) => {
  const { storage, reads } = countingStorage();
  const db = await createDatabase({ storage, blobs: new MemoryBlobHandlerton() });
  const [oid] = await db.transaction(async (tx) => [await tx.create(enc('v0'))]);
  const serial = await db.transaction(async (tx) => (await tx.read(oid!)).tid);
  const txn = storageTransaction();
  await db.storage.tpcBegin(txn);
  await db.storage.storeMany(
    [
      { oid: oid!, serial, record: { data: enc('first'), refs: NO_REFS } },
      { oid: oid!, serial, record: { data: enc('last'), refs: NO_REFS } },
    ],
    txn,
  );
  await db.storage.tpcVote(txn);
  await db.storage.tpcFinish(txn);
  const before = reads();
  t.is(await db.transaction(async (tx) => dec((await tx.read(oid!)).data)), 'last');
  t.is(reads() - before, 0, 'served by the cache (the batch left no commit counted as in flight)');
  await db.transaction(async (tx) => tx.write(oid!, enc('next')));
  t.is(await db.transaction(async (tx) => dec((await tx.read(oid!)).data)), 'next');
  t.is(reads() - before, 0, 'the next commit refilled the cache');
  t.is(dec((await storage.load(oid!)).data), 'next');
  await db.close();
});
