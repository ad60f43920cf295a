/** Database-API calls with bad arguments: a typed InvalidArgumentError naming the argument, and nothing changed (issue 11, item 6). */
import test from 'ava';
import { InvalidArgumentError, ROOT_OID } from '@handlerton/framework';
import { dec, enc, memoryDb } from './database-helpers.js';

test('db.pack(new Date(NaN)) is an InvalidArgumentError, not a RangeError', async (t) => {
  const db = await memoryDb();
  await db.transaction(async (tx) => tx.write(ROOT_OID, enc('root')));
  await t.throwsAsync(db.pack(new Date(NaN)), { instanceOf: InvalidArgumentError, message: /^at must be a valid Date/ });
  t.is(dec((await (await db.snapshot()).read(ROOT_OID)).data), 'root');
  await db.close();
});

test('db.transaction(null) and bad transaction options are InvalidArgumentErrors', async (t) => {
  const db = await memoryDb();
  await t.throwsAsync(db.transaction(null as never), { instanceOf: InvalidArgumentError, message: /^fn must be a function/ });
  t.throws(() => db.begin(null as never), { instanceOf: InvalidArgumentError, message: /^options must be an object/ });
  await t.throwsAsync(db.transaction(async () => 1, 'x' as never), { instanceOf: InvalidArgumentError, message: /^options must be an object/ });
  await t.throwsAsync(db.transaction(async () => 1, { retries: 1n } as never), { instanceOf: InvalidArgumentError, message: /^options\.retries/ });
  t.is(db.lastTransaction(), 0n);
  await db.close();
});

test('tx.write / tx.create with null or malformed options are InvalidArgumentErrors naming the option', async (t) => {
  const db = await memoryDb();
  const tx = db.begin();
  await t.throwsAsync(tx.write(ROOT_OID, enc('x'), null as never), { instanceOf: InvalidArgumentError, message: /^options must be an object/ });
  await t.throwsAsync(tx.create(enc('x'), null as never), { instanceOf: InvalidArgumentError, message: /^options must be an object/ });
  await t.throwsAsync(tx.create(enc('x'), { refs: 'abc' } as never), { instanceOf: InvalidArgumentError, message: /^options\.refs must be an array/ });
  await t.throwsAsync(tx.create(enc('x'), { refs: [1] } as never), { instanceOf: InvalidArgumentError, message: /^options\.refs\[0\]/ });
  t.is(await tx.commit(), 0n, 'the refused calls wrote nothing');
  await db.close();
});

test('createReadStream(null) and createReadStream("x") are InvalidArgumentErrors', async (t) => {
  const db = await memoryDb();
  const oid = await db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    const handle = await blob.open('w');
    await handle.write('abc');
    await tx.write(ROOT_OID, enc('root'), { refs: [blob.oid] });
    return blob.oid;
  });
  const snapshot = await db.snapshot();
  const handle = await (await snapshot.blob(oid)).open('r');
  t.throws(() => handle.createReadStream(null as never), { instanceOf: InvalidArgumentError, message: /^options must be an object/ });
  t.throws(() => handle.createReadStream('x' as never), { instanceOf: InvalidArgumentError, message: /^options must be an object/ });
  t.throws(() => handle.createReadStream({ begin: 1 } as never), { instanceOf: InvalidArgumentError, message: /^options\.begin is not an option/ });
  await handle.close();
  await snapshot.close();
  await db.close();
});

test('transaction metadata is checked when the transaction begins, the same for every engine', async (t) => {
  const db = await memoryDb();
  t.throws(() => db.begin({ meta: { description: 5 } } as never), { instanceOf: InvalidArgumentError, message: /^options\.meta\.description must be a string/ });
  await t.throwsAsync(db.transaction(async (tx) => tx.write(ROOT_OID, enc('x')), { meta: { extension: { n: 1n } } } as never), {
    instanceOf: InvalidArgumentError,
    message: /^options\.meta\.extension\.n must be JSON data/,
  });
  t.is(db.lastTransaction(), 0n);
  // The transaction keeps a copy: changing the caller's object after begin changes nothing.
  const meta = { user: 'alice', description: 'first', extension: { n: 1 } };
  const tx = db.begin({ meta });
  (meta as Record<string, unknown>)['description'] = 5;
  meta.extension.n = 2;
  await tx.write(ROOT_OID, enc('x'));
  const tid = await tx.commit();
  const [entry] = await db.storage.history(ROOT_OID, 1);
  t.is(entry?.tid, tid);
  t.is(entry?.description, 'first');
  t.deepEqual(entry?.extension, { n: 1 });
  await db.close();
});

test('read() and createReadStream() refuse lengths over 64 MiB instead of failing to allocate them', async (t) => {
  const db = await memoryDb();
  const tx = db.begin();
  const blob = await tx.createBlob();
  const handle = await blob.open('r+');
  await handle.truncate(2 ** 40);
  await t.throwsAsync(handle.read(2 ** 40), { instanceOf: InvalidArgumentError, message: /^length .* per read/ });
  t.throws(() => handle.createReadStream({ highWaterMark: 2 ** 40 }), { instanceOf: InvalidArgumentError, message: /^options\.highWaterMark/ });
  t.is((await handle.read(5)).length, 5);
  await tx.abort();
  await db.close();
});

test('error messages describe any bad value: a mode or whence without a prototype is an InvalidArgumentError, not a TypeError', async (t) => {
  const db = await memoryDb();
  const tx = db.begin();
  const blob = await tx.createBlob();
  const bare = Object.create(null) as never;
  await t.throwsAsync(blob.open(bare), { instanceOf: InvalidArgumentError, message: /^blob open mode must be one of .*\[object Object\]/ });
  const handle = await blob.open('r+');
  t.throws(() => handle.seek(0, bare), { instanceOf: InvalidArgumentError, message: /^whence must be/ });
  await t.throwsAsync(handle.read(bare), { instanceOf: InvalidArgumentError, message: /^length must be a non-negative integer, got \[object Object\]/ });
  await tx.abort();
  await db.close();
});

test('blob.locator(access): null or non-boolean access flags are InvalidArgumentErrors', async (t) => {
  const db = await memoryDb();
  const tx = db.begin();
  const blob = await tx.createBlob();
  t.throws(() => blob.locator(null as never), { instanceOf: InvalidArgumentError, message: /^access must be an object/ });
  t.throws(() => blob.locator({ write: 'yes' } as never), { instanceOf: InvalidArgumentError, message: /^access\.write must be a boolean/ });
  t.throws(() => blob.locator({ read: true } as never), { instanceOf: InvalidArgumentError, message: /^access\.read is not an option/ });
  t.true(blob.locator({ write: true }).access.write);
  await tx.abort();
  await db.close();
});

test('tx.openLocator with a bad mode names the mode (it reported a missing write grant)', async (t) => {
  const db = await memoryDb();
  const oid = await db.transaction(async (tx) => (await tx.createBlob()).oid);
  const snapshot = await db.snapshot();
  const readLocator = (await snapshot.blob(oid)).locator();
  const tx = db.begin();
  await t.throwsAsync(tx.openLocator(readLocator, 'x' as never), { instanceOf: InvalidArgumentError, message: /^blob open mode must be one of/ });
  await tx.abort();
  await snapshot.close();
  await db.close();
});
