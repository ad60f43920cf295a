import test from 'ava';
import {
  isHandlertonError,
  NO_REFS,
  storageTransaction,
  type IteratedTransaction,
} from '@handlerton/framework';
import { SqliteStorage } from '../src/index.js';
import { commit, openStorage, rec, text } from './helpers.js';

test('store, vote, finish, load; tids increase; lastTransaction moves at finish', async (t) => {
  const { storage } = await openStorage(t);
  t.is(storage.lastTransaction(), 0n);
  const oid = await storage.newOid();
  t.is(oid, 1n, 'the root oid 0 is never handed out');
  const txn = storageTransaction({ user: 'u', description: 'd', extension: { k: 1 } });
  const tid = await storage.tpcBegin(txn);
  await storage.store(oid, 0n, rec('one'), txn);
  await t.throwsAsync(storage.load(oid), { code: 'HANDLERTON_POS_KEY' });
  await storage.tpcVote(txn);
  t.is(storage.lastTransaction(), 0n);
  t.is(await storage.tpcFinish(txn), tid);
  t.is(storage.lastTransaction(), tid);
  const loaded = await storage.load(oid);
  t.is(text(loaded.data), 'one');
  t.is(loaded.tid, tid);
  const tid2 = await commit(storage, [[oid, tid, 'two']]);
  t.true(tid2 > tid);
  t.is(text((await storage.load(oid)).data), 'two');
  t.is(await storage.newOid(), 2n);
});

test('storing twice keeps the last; refs round-trip', async (t) => {
  const { storage } = await openStorage(t);
  const txn = storageTransaction();
  await storage.tpcBegin(txn);
  await storage.store(5n, 0n, rec('a'), txn);
  const refs = { oids: [1n, 2n], blobs: [{ handlerton: 'sqlite-blobs', blobId: 3n, revision: 4n }] };
  await storage.store(5n, 0n, rec('b', refs), txn);
  await storage.tpcVote(txn);
  await storage.tpcFinish(txn);
  const loaded = await storage.load(5n);
  t.is(text(loaded.data), 'b');
  t.deepEqual(loaded.refs.oids, [1n, 2n]);
  t.deepEqual(loaded.refs.blobs[0], refs.blobs[0]);
  t.is(await storage.newOid(), 6n, 'store bumps the oid counter');
});

test('conflicts are raised at store', async (t) => {
  const { storage } = await openStorage(t);
  const tid = await commit(storage, [[1n, 0n, 'a']]);
  await commit(storage, [[1n, tid, 'b']]);
  const txn = storageTransaction();
  await storage.tpcBegin(txn);
  const error = await t.throwsAsync(storage.store(1n, tid, rec('c'), txn));
  t.true(isHandlertonError(error, 'HANDLERTON_CONFLICT'));
  await t.throwsAsync(storage.store(2n, 123n, rec('new'), txn), { code: 'HANDLERTON_CONFLICT' });
  await storage.tpcAbort(txn);
  t.is(text((await storage.load(1n)).data), 'b');
});

test('2PC misuse raises StorageTransactionError; abort never throws and discards', async (t) => {
  const { storage } = await openStorage(t);
  const txn = storageTransaction();
  const other = storageTransaction();
  await t.throwsAsync(storage.store(1n, 0n, rec('x'), txn), { code: 'HANDLERTON_STORAGE_TRANSACTION' });
  await t.throwsAsync(storage.tpcVote(txn), { code: 'HANDLERTON_STORAGE_TRANSACTION' });
  await t.throwsAsync(storage.tpcFinish(txn), { code: 'HANDLERTON_STORAGE_TRANSACTION' });
  await t.notThrowsAsync(storage.tpcAbort(txn));
  await storage.tpcBegin(txn);
  await t.throwsAsync(storage.tpcBegin(txn), { code: 'HANDLERTON_STORAGE_TRANSACTION' });
  await t.throwsAsync(storage.store(1n, 0n, rec('x'), other), { code: 'HANDLERTON_STORAGE_TRANSACTION' });
  await storage.store(1n, 0n, rec('x'), txn);
  await storage.tpcVote(txn);
  await storage.tpcAbort(txn);
  await t.notThrowsAsync(storage.tpcAbort(txn));
  await t.throwsAsync(storage.load(1n), { code: 'HANDLERTON_POS_KEY' });
  t.is(storage.lastTransaction(), 0n);
});

test('the commit lock makes a second tpcBegin wait', async (t) => {
  const { storage } = await openStorage(t);
  const first = storageTransaction();
  const second = storageTransaction();
  await storage.tpcBegin(first);
  const order: string[] = [];
  const waiting = storage.tpcBegin(second).then((tid) => {
    order.push('second begun');
    return tid;
  });
  await new Promise((r) => setTimeout(r, 20));
  order.push('first finishing');
  const tid1 = await storage.tpcFinish(first);
  const tid2 = await waiting;
  t.deepEqual(order, ['first finishing', 'second begun']);
  t.true(tid2 > tid1);
  await storage.tpcAbort(second);
});

test('loadBefore follows ZODB semantics; loadSerial finds exact revisions', async (t) => {
  const { storage } = await openStorage(t);
  const t1 = await commit(storage, [[1n, 0n, 'v1']]);
  const t2 = await commit(storage, [[1n, t1, 'v2']]);
  const t3 = await commit(storage, [[2n, 0n, 'other']]);
  t.is(await storage.loadBefore(1n, t1), null, 'no revision before creation');
  const r1 = await storage.loadBefore(1n, t2);
  t.is(text(r1!.data), 'v1');
  t.is(r1!.tid, t1);
  t.is(r1!.nextTid, t2);
  const r2 = await storage.loadBefore(1n, t3);
  t.is(text(r2!.data), 'v2');
  t.is(r2!.nextTid, null);
  await t.throwsAsync(storage.loadBefore(99n, t3), { code: 'HANDLERTON_POS_KEY' });
  t.is(text((await storage.loadSerial(1n, t1)).data), 'v1');
  await t.throwsAsync(storage.loadSerial(1n, t3), { code: 'HANDLERTON_POS_KEY' });
  // consecutive tids
  const a = storageTransaction();
  const ta = await storage.tpcBegin(a, t3 + 1n);
  await storage.store(3n, 0n, rec('c1'), a);
  await storage.tpcVote(a);
  await storage.tpcFinish(a);
  const b = storageTransaction();
  await storage.tpcBegin(b, ta + 1n);
  await storage.store(3n, ta, rec('c2'), b);
  await storage.tpcVote(b);
  await storage.tpcFinish(b);
  t.is(text((await storage.loadBefore(3n, ta + 1n))!.data), 'c1');
  t.is(text((await storage.loadBefore(3n, ta + 2n))!.data), 'c2');
});

test('deleteObject writes a delete marker; older snapshots still read; errors per contract', async (t) => {
  const { storage } = await openStorage(t);
  const t1 = await commit(storage, [[1n, 0n, 'v1']]);
  const txn = storageTransaction();
  await storage.tpcBegin(txn);
  await t.throwsAsync(storage.deleteObject(1n, 7n, txn), { code: 'HANDLERTON_CONFLICT' });
  await t.throwsAsync(storage.deleteObject(9n, 0n, txn), { code: 'HANDLERTON_POS_KEY' });
  await storage.deleteObject(1n, t1, txn);
  await storage.tpcVote(txn);
  const td = await storage.tpcFinish(txn);
  await t.throwsAsync(storage.load(1n), { code: 'HANDLERTON_POS_KEY' });
  const before = await storage.loadBefore(1n, td);
  t.is(text(before!.data), 'v1');
  t.is(before!.nextTid, td);
  await t.throwsAsync(storage.loadBefore(1n, td + 1n), { code: 'HANDLERTON_POS_KEY' });
  const history = await storage.history(1n);
  t.deepEqual(history.map((h) => [h.tid, h.deleted, h.size]), [[td, true, 0], [t1, false, 2]]);
});

test('history is newest first with metadata and limited by size', async (t) => {
  const { storage } = await openStorage(t);
  const t1 = await commit(storage, [[1n, 0n, 'a']], { user: 'ann', description: 'first' });
  const t2 = await commit(storage, [[1n, t1, 'bb']], { user: 'bob', description: 'second' });
  const all = await storage.history(1n);
  t.deepEqual(all.map((h) => h.tid), [t2, t1]);
  t.is(all[0]!.user, 'bob');
  t.is(all[1]!.description, 'first');
  t.is(all[0]!.size, 2);
  t.true(all[0]!.time instanceof Date);
  t.is((await storage.history(1n, 1)).length, 1);
  await t.throwsAsync(storage.history(42n), { code: 'HANDLERTON_POS_KEY' });
});

test('iterator yields transactions in order, bounded, as a snapshot at call', async (t) => {
  const { storage } = await openStorage(t);
  const t1 = await commit(storage, [[1n, 0n, 'a'], [2n, 0n, 'b']], { user: 'u1' });
  const empty = storageTransaction({ description: 'empty' });
  await storage.tpcBegin(empty);
  await storage.tpcVote(empty);
  const t2 = await storage.tpcFinish(empty);
  const t3 = await commit(storage, [[1n, t1, 'c']]);
  const iterable = storage.iterator();
  const t4 = await commit(storage, [[3n, 0n, 'late']]);
  const seen: IteratedTransaction[] = [];
  for await (const txn of iterable) seen.push(txn);
  t.deepEqual(seen.map((s) => s.tid), [t1, t2, t3]);
  t.is(seen[0]!.meta.user, 'u1');
  t.deepEqual(seen[0]!.records.map((r) => r.oid), [1n, 2n]);
  t.is(seen[1]!.records.length, 0);
  const bounded: bigint[] = [];
  for await (const txn of storage.iterator(t2, t3)) bounded.push(txn.tid);
  t.deepEqual(bounded, [t2, t3]);
  const tail: bigint[] = [];
  for await (const txn of storage.iterator(t3 + 1n)) tail.push(txn.tid);
  t.deepEqual(tail, [t4]);
});

test('restore with an explicit tid copies revisions verbatim, including deletes', async (t) => {
  const { storage } = await openStorage(t);
  const txn = storageTransaction({ user: 'copy' });
  await storage.tpcBegin(txn, 1000n);
  await storage.restore(7n, rec('restored'), txn);
  await storage.restore(8n, null, txn);
  await storage.tpcVote(txn);
  t.is(await storage.tpcFinish(txn), 1000n);
  t.is(storage.lastTransaction(), 1000n);
  t.is(text((await storage.load(7n)).data), 'restored');
  await t.throwsAsync(storage.load(8n), { code: 'HANDLERTON_POS_KEY' });
  const again = storageTransaction();
  await t.throwsAsync(storage.tpcBegin(again, 1000n), { code: 'HANDLERTON_INVALID_ARGUMENT' });
  t.is(await storage.newOid(), 9n);
});

test('committed data survives close and reopen; databaseId is stable', async (t) => {
  const { storage, options } = await openStorage(t);
  const tid = await commit(storage, [[1n, 0n, 'durable']]);
  const id = storage.databaseId;
  await storage.close();
  await storage.close();
  const again = await SqliteStorage.open(options);
  t.teardown(() => again.close());
  t.is(again.databaseId, id);
  t.is(again.lastTransaction(), tid);
  t.is(text((await again.load(1n)).data), 'durable');
  t.is(await again.newOid(), 2n);
  const next = await commit(again, [[1n, tid, 'more']]);
  t.true(next > tid);
});

test('a closed storage refuses calls', async (t) => {
  const { storage } = await openStorage(t);
  await storage.close();
  await t.throwsAsync(storage.load(0n), { code: 'HANDLERTON_STORAGE_CLOSED' });
  await t.throwsAsync(storage.tpcBegin(storageTransaction()), { code: 'HANDLERTON_STORAGE_CLOSED' });
});

test('capabilities: durable always, crashSafe only with synchronous=full', async (t) => {
  const { storage } = await openStorage(t);
  t.true(storage.capabilities.durable);
  t.true(storage.capabilities.crashSafe);
  const normal = await openStorage(t, { synchronous: 'normal' });
  t.true(normal.storage.capabilities.durable);
  t.false(normal.storage.capabilities.crashSafe);
  t.false(storage.capabilities.undo);
  t.is(NO_REFS.oids.length, 0);
});
