import test from 'ava';
import { dec, memoryDb } from './database-helpers.js';

async function createBlob(mode: 'transactional' | 'nontransactional') {
  const db = await memoryDb(mode);
  const oid = await db.transaction(async (tx) => (await tx.createBlob()).oid);
  return { db, oid };
}

async function committedText(db: Awaited<ReturnType<typeof memoryDb>>, oid: bigint): Promise<string> {
  const snap = await db.snapshot();
  const r = await (await snap.blob(oid)).open('r');
  const text = dec(await r.read());
  await snap.close();
  return text;
}

test('locators carry the handlerton mode', async (t) => {
  for (const mode of ['dataTransactional', 'transactional', 'nontransactional'] as const) {
    const db = await memoryDb(mode);
    t.is(db.capabilities.blobs.mode, mode);
    const locator = await db.transaction(async (tx) => (await tx.createBlob()).locator());
    t.is(locator.mode, mode);
    await db.close();
  }
});

test('transactional: flush() commits the blob on its own, even if the storage transaction aborts', async (t) => {
  const { db, oid } = await createBlob('transactional');
  const tx = db.begin();
  const w = await (await tx.blob(oid)).open('w');
  await w.write('flushed');
  t.is(await committedText(db, oid), '', 'not visible before flush');
  await w.flush();
  t.is(await committedText(db, oid), 'flushed');
  await w.write(' and more');
  await tx.abort();
  t.is(await committedText(db, oid), 'flushed', 'unflushed writes are rolled back with the handle');
  await db.close();
});

test('nontransactional: writes become visible at flush and closing the handle flushes', async (t) => {
  const { db, oid } = await createBlob('nontransactional');
  const tx = db.begin();
  const w = await (await tx.blob(oid)).open('w');
  await w.write('one');
  await w.flush();
  t.is(await committedText(db, oid), 'one');
  await w.write(' two');
  await w.close();
  t.is(await committedText(db, oid), 'one two');
  await tx.abort();
  t.is(await committedText(db, oid), 'one two', 'an abort does not undo nontransactional data');
  await db.close();
});

test('dataTransactional: flush() does not publish; only the commit does', async (t) => {
  const db = await memoryDb();
  const oid = await db.transaction(async (tx) => (await tx.createBlob()).oid);
  const tx = db.begin();
  const w = await (await tx.blob(oid)).open('w');
  await w.write('pending');
  await w.flush();
  t.is(await committedText(db, oid), '');
  await tx.commit();
  t.is(await committedText(db, oid), 'pending');
  await db.close();
});
