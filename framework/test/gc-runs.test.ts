import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { RunSet, subtractRun } from '../src/database/gc/run-set.js';
import { Run, RunStore } from '../src/database/gc/sorted-run.js';
import { Yielder } from '../src/database/gc/yielder.js';
import { parseDuration } from '../src/cli/duration.js';
import { InvalidArgumentError } from '../src/index.js';

async function contents(run: Run): Promise<bigint[]> {
  const out: bigint[] = [];
  for await (const chunk of run.chunks(7)) out.push(...chunk);
  return out;
}

/** A seeded generator (mulberry32): the same cases on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` oids: small ones (many repeats) mixed with ones anywhere in the 64-bit range. */
function oidsOf(rand: () => number, n: number): bigint[] {
  return Array.from({ length: n }, () =>
    rand() < 0.7 ? BigInt(Math.floor(rand() * 300)) : (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32)),
  );
}

test('a RunSet of oids (with and without lookups) holds the sorted unique union, in memory or spilled to files, and removes its files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gc-runs-'));
  try {
    const rand = random(11);
    for (let round = 0; round < 30; round++) {
      const oids = oidsOf(rand, Math.floor(rand() * 250));
      const threshold = 2 + Math.floor(rand() * 49);
      const store = new RunStore(threshold, dir);
      const set = new RunSet(store, 1, new Yielder(), round % 2 === 0);
      for (const oid of oids) if (set.add(oid)) await set.flush();
      const run = await set.compact();
      const expected = [...new Set(oids)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      t.deepEqual(await contents(run), expected);
      for (const oid of oids.slice(0, 20)) t.true(await run.has(oid));
      t.false(await run.has(301n) && !oids.includes(301n));
      if (expected.length > threshold) t.true(store.spills > 0, 'past the threshold the runs went to files');
      await set.drop();
      await store.close();
      t.deepEqual(await readdir(dir), []);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a RunSet of pairs keeps the last value per key across runs and files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gc-pairs-'));
  try {
    const rand = random(7);
    for (let round = 0; round < 30; round++) {
      const keys = oidsOf(rand, Math.floor(rand() * 250)).map((oid) => (round % 3 === 0 ? oid : oid % 300n)); // every third round: full-width keys
      const pairs = keys.map((oid): [bigint, bigint] => [oid, oidsOf(rand, 1)[0]!]);
      const threshold = 2 + Math.floor(rand() * 39);
      const store = new RunStore(threshold, dir);
      const set = new RunSet(store, 2, new Yielder());
      const model = new Map<bigint, bigint>();
      for (const [oid, value] of pairs) {
        model.set(oid, value);
        if (set.set(oid, value)) await set.flush();
      }
      const flat = await contents(await set.compact());
      const expected = [...model].sort((a, b) => (a[0] < b[0] ? -1 : 1)).flat();
      t.deepEqual(flat, expected);
      await set.drop();
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('subtractRun gives the same answer by binary search in a file, by merge, and in memory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gc-sub-'));
  const store = new RunStore(64, dir);
  const y = new Yielder();
  try {
    // A big spilled run (every third oid below 30,000) and small and big runs to subtract it from.
    const big = new RunSet(store, 1, y);
    for (let i = 0n; i < 30_000n; i += 3n) if (big.add(i)) await big.flush();
    const minus = await big.compact();
    t.is(minus.data, undefined, 'the big run is a file');
    const inMemory = Run.memory(1, BigUint64Array.from(await contents(minus)));
    for (const keys of [[1n, 3n, 4n, 29_997n, 30_000n], Array.from({ length: 5000 }, (_, i) => BigInt(i * 7))]) {
      const from = Run.memory(1, BigUint64Array.from(keys));
      const expected = keys.filter((k) => k % 3n !== 0n || k >= 30_000n);
      t.deepEqual(await contents(await subtractRun(store, from, minus, y)), expected, `${keys.length} keys against the file`);
      t.deepEqual(await contents(await subtractRun(store, from, inMemory, y)), expected, `${keys.length} keys in memory`);
    }
    await big.drop();
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('CLI durations: units, 0 and milliseconds; anything else is an InvalidArgumentError naming the option', (t) => {
  t.is(parseDuration('1h', '--keep'), 3_600_000);
  t.is(parseDuration('30m', '--keep'), 1_800_000);
  t.is(parseDuration('45s', '--keep'), 45_000);
  t.is(parseDuration('250ms', '--keep'), 250);
  t.is(parseDuration('2d', '--keep'), 172_800_000);
  t.is(parseDuration('0', '--keep'), 0);
  t.is(parseDuration('1500', '--keep'), 1500);
  t.is(parseDuration('1.5h', '--keep'), 5_400_000);
  for (const bad of ['', '-1h', '1x', 'h', 'NaN', '1e3', '1 hour']) {
    const error = t.throws(() => parseDuration(bad, '--keep'), { instanceOf: InvalidArgumentError });
    t.true(error?.message.includes('--keep'));
  }
});
