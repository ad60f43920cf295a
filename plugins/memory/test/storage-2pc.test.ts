import test from 'ava';
import {
  ConflictError,
  InvalidArgumentError,
  isHandlertonError,
  isU64,
  POSKeyError,
  StorageClosedError,
  storageTransaction,
  StorageTransactionError,
} from '@handlerton/framework';
import { MemoryStorage } from '../src/index.js';
import { collect, commit, consecutiveStorage, rec, text, tick } from './helpers.js';

test('an empty storage has lastTransaction 0n, unknown oids and fresh oids from 1', async (t) => {
  const s = new MemoryStorage();
  t.is(s.lastTransaction(), 0n);
  await t.throwsAsync(s.load(0n), { instanceOf: POSKeyError });
  t.is(await s.newOid(), 1n);
  t.is(await s.newOid(), 2n);
  t.true(isU64(s.databaseId));
  t.not(s.databaseId, new MemoryStorage().databaseId);
});

test('capabilities are honest', (t) => {
  t.like(new MemoryStorage().capabilities, {
    mvcc: true, history: true, iterator: true, restore: true, pack: true, externalGC: true,
    undo: false, durable: false, crashSafe: false, readOnly: false, multiClient: false,
  });
});

test('a commit is visible only after tpcFinish, with the tid tpcBegin returned', async (t) => {
  const s = new MemoryStorage();
  const txn = storageTransaction();
  const tid = await s.tpcBegin(txn);
  await s.store(0n, 0n, rec('root'), txn);
  t.is(s.lastTransaction(), 0n);
  await t.throwsAsync(s.load(0n), { instanceOf: POSKeyError });
  await s.tpcVote(txn);
  t.is(s.lastTransaction(), 0n);
  t.is(await s.tpcFinish(txn), tid);
  t.is(s.lastTransaction(), tid);
  const loaded = await s.load(0n);
  t.is(loaded.tid, tid);
  t.is(text(loaded), 'root');
});

test('2PC calls out of order raise StorageTransactionError', async (t) => {
  const s = new MemoryStorage();
  const txn = storageTransaction();
  const other = storageTransaction();
  const expectation = { instanceOf: StorageTransactionError };
  await t.throwsAsync(s.store(1n, 0n, rec('x'), txn), expectation);
  await t.throwsAsync(s.tpcVote(txn), expectation);
  await t.throwsAsync(s.tpcFinish(txn), expectation);
  await s.tpcAbort(txn);
  await s.tpcBegin(txn);
  await t.throwsAsync(s.tpcBegin(txn), expectation);
  await t.throwsAsync(s.store(1n, 0n, rec('x'), other), expectation);
  await t.throwsAsync(s.deleteObject(1n, 0n, other), expectation);
  await t.throwsAsync(s.restore(1n, rec('x'), other), expectation);
  await t.throwsAsync(s.tpcVote(other), expectation);
  await t.throwsAsync(s.tpcFinish(other), expectation);
  await s.tpcAbort(other);
  await s.tpcVote(txn);
  await t.throwsAsync(s.store(1n, 0n, rec('late'), txn), expectation);
  await s.tpcFinish(txn);
});

test('tpcBegin waits for the commit lock', async (t) => {
  const s = new MemoryStorage();
  const first = storageTransaction();
  const second = storageTransaction();
  const tid1 = await s.tpcBegin(first);
  let began = false;
  const waiting = s.tpcBegin(second).then((tid) => ((began = true), tid));
  await tick();
  await tick();
  t.false(began);
  await s.store(1n, 0n, rec('a'), first);
  await s.tpcFinish(first);
  const tid2 = await waiting;
  t.true(began);
  t.true(tid2 > tid1);
  await s.tpcAbort(second);
  await commit(s, [[1n, tid1, 'b']]);
});

test('aborting a transaction still waiting for the lock makes its tpcBegin fail', async (t) => {
  const s = new MemoryStorage();
  const first = storageTransaction();
  const second = storageTransaction();
  await s.tpcBegin(first);
  const waiting = s.tpcBegin(second);
  await s.tpcAbort(second);
  await s.tpcAbort(first);
  await t.throwsAsync(waiting, { instanceOf: StorageTransactionError });
  await commit(s, []);
});

test('abort discards the transaction, also after vote, and leaves earlier data intact', async (t) => {
  const s = new MemoryStorage();
  const tid = await commit(s, [[1n, 0n, 'kept']]);
  const txn = storageTransaction();
  await s.tpcBegin(txn);
  await s.store(1n, tid, rec('gone'), txn);
  await s.store(2n, 0n, rec('gone'), txn);
  await s.tpcVote(txn);
  await s.tpcAbort(txn);
  await s.tpcAbort(txn);
  t.is(s.lastTransaction(), tid);
  t.is(text(await s.load(1n)), 'kept');
  await t.throwsAsync(s.load(2n), { instanceOf: POSKeyError });
  const tid2 = await commit(s, [[1n, tid, 'after abort']]);
  t.true(tid2 > tid);
});

test('empty transactions are legal and appear in the iterator', async (t) => {
  const s = new MemoryStorage();
  const tid1 = await commit(s, []);
  const tid2 = await commit(s, []);
  t.true(tid2 > tid1);
  t.is(s.lastTransaction(), tid2);
  const txns = await collect(s.iterator());
  t.deepEqual(txns.map((x) => [x.tid, x.records.length]), [[tid1, 0], [tid2, 0]]);
});

test('storing an oid twice in one transaction keeps the last', async (t) => {
  const s = new MemoryStorage();
  const txn = storageTransaction();
  await s.tpcBegin(txn);
  await s.store(5n, 0n, rec('one'), txn);
  await s.store(5n, 0n, rec('two'), txn);
  await s.tpcFinish(txn);
  t.is(text(await s.load(5n)), 'two');
  t.is((await collect(s.iterator()))[0]!.records.length, 1);
});

test('a stale serial raises ConflictError at store, with committed and expected serials', async (t) => {
  const s = new MemoryStorage();
  const tid1 = await commit(s, [[1n, 0n, 'v1']]);
  const tid2 = await commit(s, [[1n, tid1, 'v2']]);
  const stale = await t.throwsAsync(commit(s, [[1n, tid1, 'v3']]), { instanceOf: ConflictError });
  t.like(stale, { oid: 1n, committedSerial: tid2, expectedSerial: tid1 });
  t.true(isHandlertonError(stale, 'HANDLERTON_CONFLICT'));
  const recreate = await t.throwsAsync(commit(s, [[1n, 0n, 'new?']]), { instanceOf: ConflictError });
  t.like(recreate, { committedSerial: tid2, expectedSerial: 0n });
  const phantom = await t.throwsAsync(commit(s, [[9n, tid2, 'x']]), { instanceOf: ConflictError });
  t.like(phantom, { oid: 9n, committedSerial: undefined, expectedSerial: tid2 });
  t.is(text(await s.load(1n)), 'v2');
});

test('tpcBegin with an explicit tid uses it; one not after lastTransaction is refused without holding the lock', async (t) => {
  const s = consecutiveStorage();
  const txn = storageTransaction();
  t.is(await s.tpcBegin(txn, 100n), 100n);
  await s.restore(3n, rec('copied'), txn);
  t.is(await s.tpcFinish(txn), 100n);
  t.is((await s.load(3n)).tid, 100n);
  await t.throwsAsync(s.tpcBegin(storageTransaction(), 100n), { instanceOf: InvalidArgumentError });
  t.is(await commit(s, []), 101n);
});

test('restore writes verbatim without conflict checks; null writes a delete marker', async (t) => {
  const s = new MemoryStorage();
  const tid = await commit(s, [[1n, 0n, 'v1']]);
  const txn = storageTransaction();
  await s.tpcBegin(txn, tid + 10n);
  await s.restore(1n, null, txn);
  await s.restore(2n, rec('two'), txn);
  await s.tpcFinish(txn);
  await t.throwsAsync(s.load(1n), { instanceOf: POSKeyError });
  t.is((await s.loadBefore(1n, tid + 10n))!.nextTid, tid + 10n);
  t.is(text(await s.load(2n)), 'two');
});

test('store and restore of a high oid bump newOid', async (t) => {
  const s = new MemoryStorage();
  await commit(s, [[41n, 0n, 'x']]);
  t.is(await s.newOid(), 42n);
  const txn = storageTransaction();
  await s.tpcBegin(txn, s.lastTransaction() + 1n);
  await s.restore(99n, rec('y'), txn);
  await s.tpcFinish(txn);
  t.is(await s.newOid(), 100n);
});

test('records are copied on the way in and out', async (t) => {
  const s = new MemoryStorage();
  const input = rec('abc');
  const txn = storageTransaction();
  await s.tpcBegin(txn);
  await s.store(1n, 0n, input, txn);
  input.data[0] = 0x7a;
  await s.tpcFinish(txn);
  const loaded = await s.load(1n);
  t.is(text(loaded), 'abc');
  loaded.data[0] = 0x7a;
  t.is(text(await s.load(1n)), 'abc');
  const [iterated] = await collect(s.iterator());
  iterated!.records[0]!.record!.data[0] = 0x7a;
  t.is(text(await s.loadSerial(1n, loaded.tid)), 'abc');
});

test('after close every operation raises StorageClosedError; close aborts and wakes waiters', async (t) => {
  const s = new MemoryStorage();
  await commit(s, [[1n, 0n, 'x']]);
  const txn = storageTransaction();
  await s.tpcBegin(txn);
  const waiting = s.tpcBegin(storageTransaction());
  await s.close();
  await s.close();
  const closed = { instanceOf: StorageClosedError };
  await t.throwsAsync(waiting, closed);
  await t.throwsAsync(s.load(1n), closed);
  await t.throwsAsync(s.newOid(), closed);
  await t.throwsAsync(s.tpcBegin(storageTransaction()), closed);
  await t.throwsAsync(s.store(1n, 0n, rec('y'), txn), closed);
  await t.throwsAsync(s.pack(1n), closed);
  t.throws(() => s.lastTransaction(), closed);
  t.throws(() => s.iterator(), closed);
  await s.tpcAbort(txn);
});

test('bad arguments raise InvalidArgumentError', async (t) => {
  const s = new MemoryStorage();
  const bad = { instanceOf: InvalidArgumentError };
  await t.throwsAsync(s.load(-1n), bad);
  await t.throwsAsync(s.loadBefore(1n, 1 as unknown as bigint), bad);
  await t.throwsAsync(s.history(1n, 0), bad);
  const txn = storageTransaction();
  await s.tpcBegin(txn);
  await t.throwsAsync(s.store(1n, 0n, { data: 'x' } as unknown as ReturnType<typeof rec>, txn), bad);
  await s.tpcAbort(txn);
});
