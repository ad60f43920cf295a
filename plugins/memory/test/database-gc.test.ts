/** The external garbage collector over the memory engine: root check, dry run, safety window, options, spill path. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { GcRootMissingError, InvalidArgumentError, openDatabase, type Clock, type Database, type Oid } from '@handlerton/framework';
import { dec, enc, memoryDb } from './database-helpers.js';

const HOUR = 3_600_000;

/** A database whose root references `live` objects (a chain under it) and `garbage` unreachable ones. */
async function populate(db: Database, live: number, garbage: number): Promise<{ live: Oid[]; garbage: Oid[] }> {
  return db.transaction(async (tx) => {
    const kept: Oid[] = [];
    const dropped: Oid[] = [];
    for (let i = 0; i < live; i++) kept.push(await tx.create(enc(`live ${i}`), { refs: i > 0 && i % 3 === 0 ? [kept[i - 1]!] : [] }));
    for (let i = 0; i < garbage; i++) dropped.push(await tx.create(enc(`garbage ${i}`), { refs: i > 0 ? [dropped[i - 1]!, kept[i % live]!] : [] }));
    await tx.write(0n, enc('root'), { refs: kept.filter((_, i) => i % 3 !== 2 || i === live - 1) });
    return { live: kept, garbage: dropped };
  });
}

test('a database without a root: collectGarbage raises GcRootMissingError and deletes nothing', async (t) => {
  const db = await memoryDb();
  const oids = await db.transaction(async (tx) => [await tx.create(enc('a')), await tx.create(enc('b'))]);
  const last = db.lastTransaction();
  const error = await t.throwsAsync(db.collectGarbage({ keep: 0 }), { instanceOf: GcRootMissingError });
  t.is(error?.code, 'HANDLERTON_GC_NO_ROOT');
  await t.throwsAsync(db.collectGarbage({ keep: 0, dryRun: true }), { code: 'HANDLERTON_GC_NO_ROOT' });
  t.is(db.lastTransaction(), last);
  const snap = await db.snapshot();
  for (const oid of oids) t.not(await snap.tryRead(oid), undefined);
  await snap.close();
  await db.close();
});

test('a deleted root counts as missing', async (t) => {
  const db = await memoryDb();
  const child = await db.transaction(async (tx) => {
    const c = await tx.create(enc('child'));
    await tx.write(0n, enc('root'), { refs: [c] });
    return c;
  });
  await db.transaction((tx) => tx.delete(0n));
  await t.throwsAsync(db.collectGarbage({ keep: 0 }), { instanceOf: GcRootMissingError });
  t.is(dec((await (await db.snapshot()).read(child)).data), 'child');
  await db.close();
});

test('dry run reports the garbage, in order, and changes nothing', async (t) => {
  const db = await memoryDb();
  const { garbage } = await populate(db, 6, 4);
  const last = db.lastTransaction();
  const dry = await db.collectGarbage({ keep: 0, dryRun: true });
  t.deepEqual(dry, { dryRun: true, reachable: 7, recent: 0, garbage: 4, deleted: 0, oids: garbage, spilled: false });
  t.is(db.lastTransaction(), last);
  const limited = await db.collectGarbage({ keep: 0, dryRun: true, reportLimit: 2 });
  t.deepEqual([limited.garbage, limited.oids], [4, garbage.slice(0, 2)]);
  const real = await db.collectGarbage({ keep: 0 });
  t.deepEqual([real.dryRun, real.garbage, real.deleted, real.oids], [false, 4, 4, garbage]);
  t.true(db.lastTransaction() > last);
  await db.close();
});

test('safety window: recent garbage is kept by the default hour and collected once the fake clock passes it', async (t) => {
  let now = Date.UTC(2030, 0, 1);
  const clock: Clock = { now: () => now };
  const db = await openDatabase('memory:', { clock });
  await db.transaction((tx) => tx.write(0n, enc('root'), { refs: [] }));
  const old = await db.transaction((tx) => tx.create(enc('old garbage')));
  now += 2 * HOUR;
  const [fresh, child] = await db.transaction(async (tx) => {
    const c = await tx.create(enc('child of recent'));
    return [await tx.create(enc('recent garbage'), { refs: [c] }), c];
  });
  // A recent transaction that only references an old object protects it too.
  const referenced = await db.transaction(async (tx) => tx.create(enc('holder'), { refs: [old] }));
  now += 10 * 60_000;
  const result = await db.collectGarbage();
  t.deepEqual([result.garbage, result.recent], [0, 4]);
  const narrow = await db.collectGarbage({ keep: 60_000, dryRun: true });
  t.deepEqual([narrow.garbage, narrow.oids], [4, [old, fresh, child, referenced].sort((a, b) => (a < b ? -1 : 1))]);
  now += HOUR;
  const later = await db.collectGarbage();
  t.is(later.deleted, 4);
  await db.close();
});

test('keep: 0 collects garbage written a moment ago', async (t) => {
  const db = await memoryDb();
  await populate(db, 3, 3);
  t.is((await db.collectGarbage()).deleted, 0, 'the default window keeps it');
  t.is((await db.collectGarbage({ keep: 0 })).deleted, 3);
  await db.close();
});

test('options are validated: wrong types, NaN, negatives and unknown names raise InvalidArgumentError naming the option', async (t) => {
  const db = await memoryDb();
  await db.transaction((tx) => tx.write(0n, enc('root'), { refs: [] }));
  const bad: [unknown, string][] = [
    [{ keep: Number.NaN }, 'keep'],
    [{ keep: -1 }, 'keep'],
    [{ keep: '1h' }, 'keep'],
    [{ keep: Infinity }, 'keep'],
    [{ dryRun: 'yes' }, 'dryRun'],
    [{ reportLimit: -1 }, 'reportLimit'],
    [{ reportLimit: 1.5 }, 'reportLimit'],
    [{ spillThreshold: 0 }, 'spillThreshold'],
    [{ spillThreshold: Number.NaN }, 'spillThreshold'],
    [{ tmpDir: 3 }, 'tmpDir'],
    [{ dryrun: true }, 'dryrun'],
    ['fast', 'options'],
  ];
  const last = db.lastTransaction();
  for (const [options, name] of bad) {
    const error = await t.throwsAsync(db.collectGarbage(options as never), { instanceOf: InvalidArgumentError }, JSON.stringify(options));
    t.true(error?.message.includes(name), `${error?.message} names ${name}`);
  }
  t.is(db.lastTransaction(), last);
  await db.close();
});

test('the spill path gives the same answer as the in-memory path and removes its files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gc-spill-test-'));
  try {
    // Sizes around and far past the thresholds, deterministic.
    const cases: [number, number, number][] = [[1, 0, 2], [1, 1, 2], [5, 5, 2], [7, 3, 3], [20, 20, 4], [60, 60, 2], [60, 10, 9], [13, 47, 5], [40, 0, 3], [2, 58, 7]];
    for (const [live, garbage, threshold] of cases) {
      const db = await memoryDb();
      const made = await populate(db, live, garbage);
      // A second generation: rewrite some objects, delete one garbage object by hand.
      await db.transaction(async (tx) => {
        for (const oid of made.live.slice(0, 3)) await tx.write(oid, enc('v2'), { refs: [] });
        if (made.garbage.length > 1) await tx.delete(made.garbage[0]!);
      });
      const memory = await db.collectGarbage({ keep: 0, dryRun: true });
      const spilled = await db.collectGarbage({ keep: 0, dryRun: true, spillThreshold: threshold, tmpDir: dir });
      t.false(memory.spilled);
      if (live + garbage > threshold * 4) t.true(spilled.spilled, 'the small threshold spilled runs to files');
      t.deepEqual({ ...spilled, spilled: memory.spilled }, memory);
      const real = await db.collectGarbage({ keep: 0, spillThreshold: threshold, tmpDir: dir });
      t.deepEqual([real.garbage, real.deleted, real.oids], [memory.garbage, memory.garbage, memory.oids]);
      t.deepEqual(await readdir(dir), [], 'no temporary files are left');
      await db.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a failing load mid-collection removes the spilled files and deletes nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gc-fail-test-'));
  const db = await memoryDb();
  const { live } = await populate(db, 40, 40);
  const storage = db.storage;
  const load = storage.load.bind(storage);
  let calls = 0;
  storage.load = async (oid) => {
    if (++calls === 30) throw new Error('disk on fire');
    return load(oid);
  };
  const last = db.lastTransaction();
  await t.throwsAsync(db.collectGarbage({ keep: 0, spillThreshold: 4, tmpDir: dir }), { message: 'disk on fire' });
  t.deepEqual(await readdir(dir), []);
  t.is(db.lastTransaction(), last);
  storage.load = load;
  t.is(dec((await (await db.snapshot()).read(live[0]!)).data), 'live 0');
  await db.close();
  await rm(dir, { recursive: true, force: true });
});
