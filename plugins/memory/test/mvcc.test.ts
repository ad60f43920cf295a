import test from 'ava';
import { ConflictError, POSKeyError, storageTransaction } from '@handlerton/framework';
import { collect, commit, consecutiveStorage, rec, text } from './helpers.js';

test('loadBefore with consecutive tids 1, 2, 3 is exact', async (t) => {
  const s = consecutiveStorage();
  t.is(await commit(s, [[1n, 0n, 'r1']]), 1n);
  t.is(await commit(s, [[1n, 1n, 'r2']]), 2n);
  t.is(await commit(s, [[1n, 2n, 'r3']]), 3n);
  t.is(await s.loadBefore(1n, 1n), null, 'nothing before the creation tid');
  t.like(await s.loadBefore(1n, 2n), { tid: 1n, nextTid: 2n });
  t.like(await s.loadBefore(1n, 3n), { tid: 2n, nextTid: 3n });
  const current = await s.loadBefore(1n, 4n);
  t.like(current, { oid: 1n, tid: 3n, nextTid: null });
  t.is(text(current!), 'r3');
  t.is(text(await s.loadSerial(1n, 2n)), 'r2');
  await t.throwsAsync(s.loadSerial(1n, 4n), { instanceOf: POSKeyError });
});

test('loadBefore of an unknown oid raises POSKeyError; of a newer object returns null', async (t) => {
  const s = consecutiveStorage();
  await commit(s, [[1n, 0n, 'a']]);
  await commit(s, [[2n, 0n, 'b']]);
  await t.throwsAsync(s.loadBefore(3n, 10n), { instanceOf: POSKeyError });
  t.is(await s.loadBefore(2n, 2n), null);
  t.is(await s.loadBefore(2n, 1n), null);
});

test('deleteObject: load fails, older snapshots still read the previous revision', async (t) => {
  const s = consecutiveStorage();
  const created = await commit(s, [[1n, 0n, 'alive']]);
  const deleted = await commit(s, [[1n, created, null]]);
  await t.throwsAsync(s.load(1n), { instanceOf: POSKeyError });
  const before = await s.loadBefore(1n, deleted);
  t.like(before, { tid: created, nextTid: deleted });
  t.is(text(before!), 'alive');
  await t.throwsAsync(s.loadBefore(1n, deleted + 1n), { instanceOf: POSKeyError });
  await t.throwsAsync(s.loadSerial(1n, deleted), { instanceOf: POSKeyError });
  t.is(text(await s.loadSerial(1n, created)), 'alive');
});

test('deleteObject checks at the call: POSKeyError without a current revision, ConflictError on a stale serial', async (t) => {
  const s = consecutiveStorage();
  const v1 = await commit(s, [[1n, 0n, 'v1']]);
  const v2 = await commit(s, [[1n, v1, 'v2']]);
  const txn = storageTransaction();
  await s.tpcBegin(txn);
  await t.throwsAsync(s.deleteObject(7n, 0n, txn), { instanceOf: POSKeyError });
  const stale = await t.throwsAsync(s.deleteObject(1n, v1, txn), { instanceOf: ConflictError });
  t.like(stale, { oid: 1n, committedSerial: v2, expectedSerial: v1 });
  await s.deleteObject(1n, v2, txn);
  const deleted = await s.tpcFinish(txn);
  const again = storageTransaction();
  await s.tpcBegin(again);
  await t.throwsAsync(s.deleteObject(1n, deleted, again), { instanceOf: POSKeyError });
  await s.tpcAbort(again);
});

test('a deleted object counts as absent for writers: old serials conflict, serial 0n recreates it', async (t) => {
  const s = consecutiveStorage();
  const v1 = await commit(s, [[1n, 0n, 'v1']]);
  await commit(s, [[1n, v1, null]]);
  const stale = await t.throwsAsync(commit(s, [[1n, v1, 'late']]), { instanceOf: ConflictError });
  t.like(stale, { committedSerial: undefined, expectedSerial: v1 });
  const again = await commit(s, [[1n, 0n, 'reborn']]);
  t.like(await s.load(1n), { tid: again });
});

test('history lists revisions newest first, delete markers with size 0', async (t) => {
  const s = consecutiveStorage();
  const v1 = await commit(s, [[1n, 0n, 'one']], 'first');
  const v2 = await commit(s, [[1n, v1, 'three']], 'second');
  const gone = await commit(s, [[1n, v2, null]], 'delete');
  await t.throwsAsync(s.history(2n), { instanceOf: POSKeyError });
  const one = await s.history(1n);
  t.is(one.length, 1, 'size defaults to 1, as in ZODB');
  const all = await s.history(1n, 10);
  t.deepEqual(all.map((h) => [h.tid, h.size, h.deleted, h.description]), [
    [gone, 0, true, 'delete'],
    [v2, 5, false, 'second'],
    [v1, 3, false, 'first'],
  ]);
  t.deepEqual(all[0]!.time, new Date(0));
  t.is((await s.history(1n, 2)).length, 2);
});

test('iterator bounds are inclusive and may fall between tids', async (t) => {
  const s = consecutiveStorage();
  const txn = storageTransaction({ user: 'u', description: 'd', extension: { k: [1] } });
  t.is(await s.tpcBegin(txn, 10n), 10n);
  await s.store(1n, 0n, rec('a'), txn);
  await s.tpcFinish(txn);
  await commit(s, [[2n, 0n, 'b']]);
  await commit(s, [[1n, 10n, 'c']]);
  const tids = async (start?: bigint, stop?: bigint) => (await collect(s.iterator(start, stop))).map((x) => x.tid);
  t.deepEqual(await tids(), [10n, 11n, 12n]);
  t.deepEqual(await tids(11n, 12n), [11n, 12n]);
  t.deepEqual(await tids(5n, 11n), [10n, 11n]);
  t.deepEqual(await tids(11n, 11n), [11n]);
  t.deepEqual(await tids(13n), []);
  t.deepEqual(await tids(12n, 11n), []);
  const [first] = await collect(s.iterator(10n, 10n));
  t.like(first, { tid: 10n, status: ' ', meta: { user: 'u', description: 'd', extension: { k: [1] } } });
  t.deepEqual(first!.records.map((r) => [r.oid, r.tid, text(r.record!)]), [[1n, 10n, 'a']]);
});

test('the iterator is a snapshot taken when it is called', async (t) => {
  const s = consecutiveStorage();
  await commit(s, [[1n, 0n, 'a']]);
  const iterable = s.iterator();
  await commit(s, [[2n, 0n, 'b']]);
  t.is((await collect(iterable)).length, 1);
});

test('the iterator shows deletes as null records', async (t) => {
  const s = consecutiveStorage();
  const v1 = await commit(s, [[1n, 0n, 'a']]);
  await commit(s, [[1n, v1, null]]);
  const txns = await collect(s.iterator());
  t.deepEqual(txns[1]!.records, [{ oid: 1n, tid: 2n, record: null }]);
});
