import test from 'ava';
import {
  ConflictError,
  InvalidLocatorError,
  openDatabase,
  POSKeyError,
  storageTransaction,
  tidToDate,
  TransactionClosedError,
  type Clock,
} from '@handlerton/framework';
import { dec, enc, memoryDb } from './database-helpers.js';

test('transaction() commits on return and aborts on throw, leaving nothing behind', async (t) => {
  const db = await memoryDb();
  const oid = await db.transaction(async (tx) => tx.create(enc('kept')));
  const before = db.lastTransaction();
  await t.throwsAsync(
    db.transaction(async (tx) => {
      await tx.write(oid, enc('lost'));
      await tx.create(enc('lost too'));
      throw new Error('application failure');
    }),
    { message: 'application failure' },
  );
  t.is(db.lastTransaction(), before);
  const snap = await db.snapshot();
  t.is(dec((await snap.read(oid)).data), 'kept');
  await snap.close();
  await db.close();
});

test('lastTransaction moves only on commit and tids strictly increase', async (t) => {
  const db = await memoryDb();
  t.is(db.lastTransaction(), 0n);
  const tids: bigint[] = [];
  for (let i = 0; i < 5; i++) {
    await db.transaction(async (tx) => void (await tx.create(enc(String(i)))));
    tids.push(db.lastTransaction());
  }
  for (let i = 1; i < tids.length; i++) t.true(tids[i]! > tids[i - 1]!);
  const tx = db.begin();
  await tx.create(enc('x'));
  await tx.abort();
  t.is(db.lastTransaction(), tids[4]);
  await db.transaction(async () => undefined);
  t.is(db.lastTransaction(), tids[4], 'a transaction that wrote nothing commits nothing');
  await db.close();
});

test('a stale write raises ConflictError with the serials and leaves the database as it was', async (t) => {
  const db = await memoryDb();
  const oid = await db.transaction(async (tx) => tx.create(enc('v1')));
  const slow = db.begin();
  t.is(dec((await slow.read(oid)).data), 'v1');
  await db.transaction(async (tx) => tx.write(oid, enc('v2')));
  await slow.write(oid, enc('v3'));
  const other = await slow.create(enc('never'));
  const error = await t.throwsAsync(slow.commit(), { instanceOf: ConflictError });
  t.is(error?.oid, oid);
  t.true((error?.committedSerial ?? 0n) > (error?.expectedSerial ?? 0n));
  const snap = await db.snapshot();
  t.is(dec((await snap.read(oid)).data), 'v2');
  t.is(await snap.tryRead(other), undefined);
  await snap.close();
  await db.close();
});

test('the retry helper reruns a transaction that lost a conflict', async (t) => {
  const db = await memoryDb();
  const oid = await db.transaction(async (tx) => tx.create(enc('0')));
  let attempts = 0;
  const results = await Promise.all(
    Array.from({ length: 8 }, () =>
      db.transaction(
        async (tx) => {
          attempts++;
          const value = Number(dec((await tx.read(oid)).data));
          await new Promise((resolve) => setImmediate(resolve));
          await tx.write(oid, enc(String(value + 1)));
          return value;
        },
        { retries: 20 },
      ),
    ),
  );
  t.is(results.length, 8);
  t.true(attempts > 8, 'some transactions conflicted and retried');
  const snap = await db.snapshot();
  t.is(dec((await snap.read(oid)).data), '8');
  await snap.close();
  await db.close();
});

test('non-overlapping concurrent writers both commit', async (t) => {
  const db = await memoryDb();
  const [a, b] = await db.transaction(async (tx) => [await tx.create(enc('a')), await tx.create(enc('b'))]);
  const ta = db.begin();
  const tb = db.begin();
  await ta.write(a!, enc('a2'));
  await tb.write(b!, enc('b2'));
  await Promise.all([ta.commit(), tb.commit()]);
  const snap = await db.snapshot();
  t.is(dec((await snap.read(a!)).data), 'a2');
  t.is(dec((await snap.read(b!)).data), 'b2');
  await snap.close();
  await db.close();
});

test('snapshots see exactly the state at their tid, before and after later commits and deletes', async (t) => {
  const db = await memoryDb();
  const oid = await db.transaction(async (tx) => tx.create(enc('one')));
  const first = db.lastTransaction();
  await db.transaction(async (tx) => tx.write(oid, enc('two')));
  const old = await db.snapshot(first);
  const now = await db.snapshot();
  await db.transaction(async (tx) => tx.delete(oid));
  t.is(dec((await old.read(oid)).data), 'one');
  t.is(dec((await now.read(oid)).data), 'two');
  const latest = await db.snapshot();
  await t.throwsAsync(latest.read(oid), { instanceOf: POSKeyError });
  t.is(await latest.tryRead(oid), undefined);
  const beforeAll = await db.snapshot(first - 1n);
  t.is(await beforeAll.tryRead(oid), undefined);
  for (const s of [old, now, latest, beforeAll]) await s.close();
  await t.throwsAsync(old.read(oid), { instanceOf: TransactionClosedError });
  await db.close();
});

test('records declare references; the external GC deletes what the root cannot reach', async (t) => {
  const db = await memoryDb();
  const { kept, dropped, blobOid } = await db.transaction(async (tx) => {
    const kept = await tx.create(enc('kept'));
    const dropped = await tx.create(enc('garbage'));
    const blob = await tx.createBlob();
    await (await blob.open('w')).write('blob data');
    await tx.write(0n, enc('root'), { refs: [kept, blob.oid] });
    return { kept, dropped, blobOid: blob.oid };
  });
  t.deepEqual((await (await db.snapshot()).read(0n)).refs, [kept, blobOid]);
  const gc = await db.collectGarbage({ keep: 0 });
  t.deepEqual(gc, { dryRun: false, reachable: 3, recent: 0, garbage: 1, deleted: 1, oids: [dropped], spilled: false });
  const snap = await db.snapshot();
  t.is(await snap.tryRead(dropped), undefined);
  t.is(dec((await snap.read(kept)).data), 'kept');
  await snap.close();
  await db.close();
});

test('locators: read through a locator, write through a write locator, reject tampered and read-only ones', async (t) => {
  const db = await memoryDb();
  const { oid, readLocator, writeLocator } = await db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    await (await blob.open('w')).write('v1');
    return { oid: blob.oid, readLocator: '', writeLocator: '' };
  }).then(async ({ oid }) => {
    const snap = await db.snapshot();
    const blob = await snap.blob(oid);
    const result = { oid, readLocator: blob.locator().toString(), writeLocator: blob.locator({ write: true }).toString() };
    await snap.close();
    return result;
  });
  const outside = await db.openLocator(readLocator);
  t.is(dec(await outside.read()), 'v1');
  await outside.close();
  await db.transaction(async (tx) => {
    await t.throwsAsync(tx.openLocator(readLocator, 'w'), { instanceOf: InvalidLocatorError, message: /write/ });
    const w = await tx.openLocator(writeLocator, 'a');
    await w.write('+v2');
  });
  // The old write locator names revision 1: writing through it now is a conflict.
  await db.transaction(async (tx) => {
    await t.throwsAsync(tx.openLocator(writeLocator, 'r+'), { instanceOf: ConflictError });
    // Reading through it still serves the revision it names while that revision exists.
    t.is(dec(await (await tx.openLocator(readLocator, 'r')).read()), 'v1');
  });
  const tampered = Buffer.from(readLocator.slice(4), 'base64url');
  tampered[20]! ^= 0xff;
  await t.throwsAsync(db.openLocator('hl1.' + tampered.toString('base64url')), { instanceOf: InvalidLocatorError });
  await t.throwsAsync(db.openLocator('garbage'), { instanceOf: InvalidLocatorError });
  const other = await memoryDb();
  await t.throwsAsync(other.openLocator(readLocator), { instanceOf: InvalidLocatorError });
  await other.close();
  const snap = await db.snapshot();
  t.is(dec(await (await (await snap.blob(oid)).open('r')).read()), 'v1+v2');
  await snap.close();
  await db.close();
});

test('a configured locatorSecret keeps locators valid across reopen of the database object', async (t) => {
  const config = { engine: 'memory', locatorSecret: 'a secret of 16+ characters' };
  const db1 = await openDatabase(config);
  const db2 = await openDatabase(config);
  const locator = await db1.transaction(async (tx) => (await tx.createBlob()).locator().toString());
  // Different database ids: the locator is still refused by another database.
  await t.throwsAsync(db2.openLocator(locator), { instanceOf: InvalidLocatorError, message: /database/ });
  await db1.close();
  await db2.close();
});

test('the child container takes an injected clock: tids follow it', async (t) => {
  let now = Date.UTC(2030, 0, 1);
  const clock: Clock = { now: () => now };
  const db = await openDatabase('memory:', { clock });
  // The memory engine reads the clock from its context.
  await db.transaction(async (tx) => void (await tx.create(enc('x'))));
  t.is(tidToDate(db.lastTransaction()).getTime(), now);
  now -= 3_600_000;
  const before = db.lastTransaction();
  await db.transaction(async (tx) => void (await tx.create(enc('y'))));
  t.true(db.lastTransaction() > before, 'tids never go backwards with the clock');
  await db.close();
});

test('using a closed database raises StorageClosedError; bad arguments raise InvalidArgumentError', async (t) => {
  const db = await memoryDb();
  await t.throwsAsync(db.transaction(async (tx) => tx.create('text' as unknown as Uint8Array)), { code: 'HANDLERTON_INVALID_ARGUMENT' });
  await t.throwsAsync(db.transaction(async (tx) => tx.read(-1n)), { code: 'HANDLERTON_INVALID_ARGUMENT' });
  await t.throwsAsync(db.transaction(async (tx) => tx.write(99n, enc('x'))), { instanceOf: POSKeyError });
  await t.throwsAsync(db.transaction(async (tx) => tx.create(enc('x'), { refs: [1 as unknown as bigint] })), { code: 'HANDLERTON_INVALID_ARGUMENT' });
  const blobOid = await db.transaction(async (tx) => (await tx.createBlob()).oid);
  await t.throwsAsync(db.transaction(async (tx) => tx.write(blobOid, enc('x'))), { code: 'HANDLERTON_INVALID_ARGUMENT', message: /blob object/ });
  const plain = await db.transaction(async (tx) => tx.create(enc('plain')));
  await t.throwsAsync(db.transaction(async (tx) => tx.blob(plain)), { code: 'HANDLERTON_INVALID_ARGUMENT', message: /not a blob/ });
  await db.close();
  await db.close();
  t.throws(() => db.lastTransaction(), { code: 'HANDLERTON_STORAGE_CLOSED' });
  await t.throwsAsync(db.snapshot(), { code: 'HANDLERTON_STORAGE_CLOSED' });
});

test('two-phase commit through the raw storage: abort after vote leaves nothing', async (t) => {
  const db = await memoryDb();
  const storage = db.storage;
  const txn = storageTransaction({ user: 'u', description: 'd' });
  await storage.tpcBegin(txn);
  const oid = await storage.newOid();
  await storage.store(oid, 0n, { data: enc('x'), refs: { oids: [], blobs: [] } }, txn);
  await storage.tpcVote(txn);
  await storage.tpcAbort(txn);
  await t.throwsAsync(storage.load(oid), { instanceOf: POSKeyError });
  t.is(storage.lastTransaction(), 0n);
  await db.close();
});
