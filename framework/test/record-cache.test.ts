/** RecordCache rules: MVCC validity ranges, loads racing with commits, commits in flight. */
import test from 'ava';
import { NO_REFS, RecordCache, type RecordInput } from '../src/index.js';

const rec = (byte: number): RecordInput => ({ data: new Uint8Array([byte]), refs: NO_REFS });
const dataAt = (cache: RecordCache, oid: bigint, view: bigint): number | undefined => cache.lookup(oid, view)?.record.data[0];

test('a current revision serves views at or after its tid; a commit ends it exactly at the new tid', (t) => {
  const cache = new RecordCache(1 << 20);
  cache.fillLoaded(1n, 10n, null, rec(1), cache.ticket());
  t.is(dataAt(cache, 1n, 9n), undefined, 'a view older than the revision misses');
  t.is(dataAt(cache, 1n, 10n), 1);
  t.is(dataAt(cache, 1n, 50n), 1);
  cache.commitStarting(20n, [1n]);
  t.is(dataAt(cache, 1n, 19n), 1, 'views before the commit still read the old revision');
  t.is(dataAt(cache, 1n, 20n), undefined, 'a view that may see the commit misses while it finishes');
  cache.commitFinished(20n, [[1n, rec(2)]], true);
  t.is(dataAt(cache, 1n, 19n), 1);
  t.is(dataAt(cache, 1n, 25n), 2);
});

test('a load that raced with a commit is not filed as current', (t) => {
  const cache = new RecordCache(1 << 20);
  const ticket = cache.ticket();
  cache.commitStarting(20n, [1n]);
  cache.commitFinished(20n, [[1n, null]], true);
  // The load read the revision before the commit (a delete) published, and returns after it.
  cache.fillLoaded(1n, 10n, null, rec(1), ticket);
  t.is(dataAt(cache, 1n, 30n), undefined);
  // With its exact successor known, an old revision is filed for the views it is valid for.
  cache.fillLoaded(1n, 10n, 20n, rec(1), cache.ticket());
  t.is(dataAt(cache, 1n, 15n), 1);
  t.is(dataAt(cache, 1n, 20n), undefined);
});

test('a load returning while a commit of the same object is finishing is not filed as current', (t) => {
  const cache = new RecordCache(1 << 20);
  cache.commitStarting(20n, [1n]);
  cache.fillLoaded(1n, 10n, null, rec(1), cache.ticket());
  t.is(dataAt(cache, 1n, 20n), undefined);
});

test('of two commits of one object in flight, the older one returning files nothing as current', (t) => {
  const cache = new RecordCache(1 << 20);
  cache.commitStarting(20n, [1n]);
  cache.commitStarting(30n, [1n]);
  cache.commitFinished(20n, [[1n, rec(2)]], true);
  t.is(dataAt(cache, 1n, 35n), undefined);
  cache.commitFinished(30n, [[1n, rec(3)]], true);
  t.is(dataAt(cache, 1n, 35n), 3);
});

test('a commit whose outcome is unknown files nothing', (t) => {
  const cache = new RecordCache(1 << 20);
  cache.fillLoaded(1n, 10n, null, rec(1), cache.ticket());
  cache.commitStarting(20n, [1n]);
  cache.commitFinished(20n, [[1n, rec(2)]], false);
  t.is(dataAt(cache, 1n, 25n), undefined);
  t.is(dataAt(cache, 1n, 15n), 1);
});

test('invalidate and clear forget current revisions; counters follow', (t) => {
  const cache = new RecordCache(1 << 20);
  cache.fillLoaded(1n, 10n, null, rec(1), cache.ticket());
  cache.fillLoaded(2n, 10n, null, rec(2), cache.ticket());
  cache.invalidate([1n]);
  t.is(dataAt(cache, 1n, 10n), undefined);
  t.is(dataAt(cache, 2n, 10n), 2);
  cache.clear();
  t.is(dataAt(cache, 2n, 10n), undefined);
  const stats = cache.stats();
  t.is(stats.revisions, 0);
  t.is(stats.bytes, 0);
  t.is(stats.hits, 1);
  t.is(stats.misses, 2);
});

test('over its bound the cache drops the oldest object not read since it was cached; a read one is spared', (t) => {
  // Each object here counts 177 bytes (1 byte of data, per-revision and per-slot overhead): three fit in 600.
  const cache = new RecordCache(600);
  for (const oid of [1n, 2n, 3n]) cache.fillLoaded(oid, 10n, null, rec(Number(oid)), cache.ticket());
  t.is(dataAt(cache, 1n, 10n), 1, 'object 1 is read');
  cache.fillLoaded(4n, 10n, null, rec(4), cache.ticket());
  t.is(cache.stats().evictions, 1);
  t.is(dataAt(cache, 2n, 10n), undefined, 'object 2, oldest and never read, went');
  t.is(dataAt(cache, 1n, 10n), 1, 'object 1 was read, so it stayed');
  t.is(dataAt(cache, 3n, 10n), 3);
  t.is(dataAt(cache, 4n, 10n), 4);
  // Every object read now: the next one over the bound evicts the oldest after one pass, never the one just cached.
  cache.fillLoaded(5n, 10n, null, rec(5), cache.ticket());
  t.is(cache.stats().evictions, 2);
  t.is(dataAt(cache, 3n, 10n), undefined, 'object 3, the oldest, went once a pass had cleared every flag');
  t.is(dataAt(cache, 5n, 10n), 5);
  t.true(cache.stats().bytes <= 600);
});
