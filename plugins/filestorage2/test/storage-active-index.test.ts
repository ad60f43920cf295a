import test from 'ava';
import fc from 'fast-check';
import { oidKey } from '@handlerton/framework';
import { ActiveIndex, type ActiveEntry } from '../src/storage/active-index.js';
import { RunMerge } from '../src/storage/run-merge.js';

/** Every oid of the index in the order a seal writes them (sorted runs merged, then the large oids), with entry numbers. */
async function sealOrder(index: ActiveIndex, runLength: number): Promise<{ oids: bigint[]; ids: number[] }> {
  let pauses = 0;
  const merge = new RunMerge(await index.sortedRuns(runLength, async () => void pauses++));
  const oids: bigint[] = [];
  const ids: number[] = [];
  for (let id = merge.next(); id >= 0; id = merge.next()) {
    oids.push(BigInt(merge.key));
    ids.push(id);
  }
  const large = index.largeSorted();
  return { oids: oids.concat(large.keys), ids: ids.concat(large.ids) };
}

interface ModelEntry {
  off: number;
  tid: bigint;
  oldest: bigint;
  deleted: boolean;
}

const oidArb = fc.oneof(
  fc.bigInt({ min: 0n, max: 5000n }),
  fc.bigInt({ min: 2n ** 32n - 50n, max: 2n ** 32n + 50n }),
  fc.bigInt({ min: 2n ** 53n - 5n, max: 2n ** 64n - 1n }),
);

test('the active index agrees with a Map model: newest and oldest tid, offsets, delete markers, oid order', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.tuple(oidArb, fc.boolean()), { maxLength: 40 }), { maxLength: 80 }),
      fc.integer({ min: 1, max: 50 }),
      fc.option(fc.bigInt({ min: 0n, max: 2n ** 32n + 60n }), { nil: undefined }),
      async (txns, runLength, newOidsFrom) => {
      const index = new ActiveIndex();
      if (newOidsFrom !== undefined) index.startNewOidsAt(newOidsFrom);
      const model = new Map<bigint, ModelEntry>();
      let off = 64;
      txns.forEach((records, i) => {
        const tid = BigInt(1000 + i);
        const ordinal = index.addTxn(tid);
        for (const [oid, deleted] of records) {
          index.put(oidKey(oid), off, ordinal, deleted);
          const before = model.get(oid);
          model.set(oid, { off, tid, oldest: before?.oldest ?? tid, deleted });
          off += 50;
        }
      });
      if (index.size !== model.size) return false;
      for (const [oid, m] of model) {
        const e: ActiveEntry | undefined = index.get(oidKey(oid));
        if (!e || e.off !== m.off || e.tid !== m.tid || e.oldest !== m.oldest || e.deleted !== m.deleted) return false;
      }
      const { oids, ids } = await sealOrder(index, runLength);
      const expected = [...model.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (oids.join(',') !== expected.join(',')) return false;
      return oids.every((oid, i) => index.offOf(ids[i]!) === model.get(oid)!.off);
    }),
    { numRuns: 200 },
  );
  t.is(new ActiveIndex().get(1), undefined);
});

test('new objects are directly addressed; scattered oids in that range go to the hash table without allocating chunks', (t) => {
  const base = 1_000_000;
  const index = new ActiveIndex();
  index.startNewOidsAt(BigInt(base));
  const ordinal = index.addTxn(9n);
  const before = process.memoryUsage().arrayBuffers;
  // 2000 updates spread over the 2^24 oids after the base (a chunk each, were they allocated)
  for (let i = 0; i < 2000; i++) index.put(base + 100_000 + i * 8191, i, ordinal, false);
  const scattered = process.memoryUsage().arrayBuffers - before;
  t.true(scattered < 4 * 1024 * 1024, `scattered keys took ${scattered} bytes of typed arrays`);
  // then 100k new objects in order from the base, some committed a little out of order
  for (let i = 0; i < 100_000; i += 100) for (let j = 99; j >= 0; j--) index.put(base + i + j, 1e7 + i + j, ordinal, false);
  t.is(index.size, 102_000);
  for (let i = 0; i < 2000; i++) t.is(index.get(base + 100_000 + i * 8191)?.off, i);
  for (let i = 0; i < 100_000; i += 997) t.is(index.get(base + i)?.off, 1e7 + i);
  t.is(index.get(base - 1), undefined);
  t.is(index.get(base + 2 ** 24 + 5), undefined);
  index.put(base - 1, 5, ordinal, true);
  t.is(index.get(base - 1)?.deleted, true);
  index.startNewOidsAt(0n); // too late: the index is not empty, nothing changes
  t.is(index.get(base + 100_000)?.off, 0);
});

test('the active index grows past its first table and keeps every entry (100k oids, in and out of order)', async (t) => {
  const index = new ActiveIndex();
  const tid = 7n;
  const ordinal = index.addTxn(tid);
  for (let i = 0; i < 100_000; i++) index.put(i * 3, i, ordinal, false);
  for (let i = 99_999; i >= 0; i--) index.put(i * 3 + 1, 1e6 + i, ordinal, i % 2 === 0);
  t.is(index.size, 200_000);
  t.is(index.get(299_997)?.off, 99_999);
  t.is(index.get(4)?.off, 1e6 + 1);
  t.is(index.get(4)?.deleted, false);
  t.is(index.get(1)?.deleted, true);
  t.is(index.get(2), undefined);
  const { oids } = await sealOrder(index, 32768);
  t.is(oids.length, 200_000);
  t.true(oids.every((k, i) => i === 0 || k > oids[i - 1]!));
});
