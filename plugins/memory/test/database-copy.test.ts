import test from 'ava';
import { copyTransactions } from '@handlerton/framework';
import { dec, enc, memoryDb, readAll } from './database-helpers.js';

test('copyTransactions reproduces loads, histories, deletes and blob contents in another database', async (t) => {
  const source = await memoryDb();
  const { note, blobOid, gone } = await source.transaction(async (tx) => {
    const note = await tx.create(enc('n1'));
    const gone = await tx.create(enc('to be deleted'));
    const blob = await tx.createBlob();
    await (await blob.open('w')).write('blob v1');
    await tx.write(0n, enc('root'), { refs: [note, blob.oid] });
    return { note, blobOid: blob.oid, gone };
  }, { meta: { user: 'alice', description: 'create', extension: { ticket: 7 } } });
  await source.transaction(async (tx) => {
    await tx.write(note, enc('n2'));
    await (await (await tx.blob(blobOid)).open('a')).write(' + v2');
    await tx.delete(gone);
  });
  const destination = await memoryDb();
  const result = await copyTransactions(source, destination);
  t.is(result.transactions, 2);
  t.is(result.blobRevisions, 2);
  t.is(destination.lastTransaction(), source.lastTransaction());
  for (const oid of [0n, note]) {
    const a = await source.storage.load(oid);
    const b = await destination.storage.load(oid);
    t.is(dec(b.data), dec(a.data));
    t.is(b.tid, a.tid);
    t.deepEqual(
      (await destination.storage.history(oid)).map((h) => [h.tid, h.user, h.description, h.size]),
      (await source.storage.history(oid)).map((h) => [h.tid, h.user, h.description, h.size]),
    );
  }
  await t.throwsAsync(destination.storage.load(gone), { code: 'HANDLERTON_POS_KEY' });
  const snap = await destination.snapshot();
  t.is(await readAll(await (await snap.blob(blobOid)).open('r')), 'blob v1 + v2');
  await snap.close();
  const history = await destination.storage.history(0n);
  t.deepEqual(history[0]?.extension, { ticket: 7 });
  await t.throwsAsync(copyTransactions(source, destination), { code: 'HANDLERTON_INVALID_ARGUMENT' });
  await source.close();
  await destination.close();
});
