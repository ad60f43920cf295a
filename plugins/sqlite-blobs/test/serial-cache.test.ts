import test from 'ava';
import { SerialCache } from '../src/serial-cache.js';

test('keeps the newest serial of every oid set since the last generation swap', (t) => {
  const cache = new SerialCache(4);
  for (let oid = 1n; oid <= 10n; oid++) cache.set(oid, { tid: oid * 10n, deleted: false });
  cache.set(9n, { tid: 99n, deleted: true });
  t.deepEqual(cache.get(9n), { tid: 99n, deleted: true });
  t.deepEqual(cache.get(10n), { tid: 100n, deleted: false });
  // at most two generations of `limit` entries survive: the oldest oids were forgotten, never wrong
  t.is(cache.get(1n), undefined);
  for (let oid = 1n; oid <= 10n; oid++) {
    const found = cache.get(oid);
    if (found !== undefined && oid !== 9n) t.is(found.tid, oid * 10n);
  }
});

test('an update in the young generation shadows the old one', (t) => {
  const cache = new SerialCache(2);
  cache.set(1n, { tid: 1n, deleted: false });
  cache.set(2n, { tid: 2n, deleted: false }); // swap: {1, 2} become old
  cache.set(1n, { tid: 3n, deleted: false });
  t.is(cache.get(1n)?.tid, 3n);
  t.is(cache.get(2n)?.tid, 2n);
  cache.clear();
  t.is(cache.get(1n), undefined);
});
