/** The corruption sweep itself: it notices wrong bytes, untyped errors, hangs and unnamed files, and replays a state. */
import test from 'ava';
import { CorruptionError, openDatabase, type Database, type DatabaseConfigObject, type DatabaseOverrides, type Snapshot } from '@handlerton/framework';
import { runCorruptionSweep } from '../src/corruption/index.js';
import { planDamage } from '../src/corruption/damage.js';

/** Opens the engine, but every snapshot returns oid 1 with its first byte flipped: an engine returning wrong bytes. */
async function alteringOpen(config: DatabaseConfigObject, overrides: DatabaseOverrides): Promise<Database> {
  const db = await openDatabase(config, overrides);
  const alter = (snapshot: Snapshot): Snapshot =>
    new Proxy(snapshot, {
      get(target, property, receiver) {
        if (property === 'tryRead') {
          return async (oid: bigint) => {
            const record = await target.tryRead(oid);
            if (record === undefined || oid !== 1n || record.data.length === 0) return record;
            const data = Uint8Array.from(record.data);
            data[0] = data[0]! ^ 0xff;
            return { ...record, data };
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property === 'snapshot') return async (at?: bigint) => alter(await target.snapshot(at));
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

test('an engine that returns altered bytes is reported silent and fails the sweep', async (t) => {
  const report = await runCorruptionSweep({ engine: 'filestorage2', states: 4, seed: 1, open: alteringOpen });
  t.false(report.ok);
  t.true(report.counts['silent']! > 0, report.summary);
  t.true(report.summary.includes('silent=') && !report.summary.includes('silent=0'), report.summary);
  t.true(report.violations.some((v) => v.message.startsWith('silent:') && v.message.includes('oid 1')), report.violations.map((v) => v.message).join('\n'));
  t.is(report.violations[0]!.replay?.['seed'], 1);
});

test('untyped errors, hangs and a CorruptionError that names no file are violations; one naming a file is not', async (t) => {
  const behaviours: Array<() => Promise<Database>> = [
    async () => Promise.reject(new Error('boom')),
    () => new Promise<Database>(() => undefined),
    async () => Promise.reject(new CorruptionError('somewhere')),
    async () => Promise.reject(new CorruptionError('here', '/x', 3)),
  ];
  let state = 0;
  const report = await runCorruptionSweep({ engine: 'filestorage2', states: 4, seed: 2, timeoutMs: 500, open: () => behaviours[state++]!() });
  t.false(report.ok);
  t.deepEqual(
    { untyped: report.counts['untyped'], mistyped: report.counts['mistyped'], detected: report.counts['detected'] },
    { untyped: 2, mistyped: 1, detected: 1 },
    report.summary,
  );
  t.true(report.violations[0]!.message.includes('untyped Error: boom'), report.violations[0]!.message);
  t.true(report.violations[1]!.message.includes('hang'), report.violations[1]!.message);
  t.true(report.violations[2]!.message.includes('naming no file'), report.violations[2]!.message);
});

test('the damage of a state depends only on the seed and its number, and every kind comes in turn', (t) => {
  const regions = ['a', 'b', 'c'].map((kind, i) => ({ kind, file: `f${i}`, start: 10, end: 20, tail: false }));
  const images = [{ name: 'closed' as const, dir: '/nowhere', regions }];
  const kinds = ['a', 'b', 'c'];
  const first = Array.from({ length: 30 }, (_, i) => planDamage(7, i, kinds, images));
  t.deepEqual(Array.from({ length: 30 }, (_, i) => planDamage(7, i, kinds, images)), first);
  t.deepEqual(first.slice(0, 3).map((d) => d.kind), kinds);
  for (const damage of first) {
    for (const offset of damage.offsets) t.true(offset >= 10 && offset < 20);
    if (damage.mode === 'flip') t.true(damage.masks.every((m) => m >= 1 && m <= 255));
  }
  t.true(first.some((d) => d.mode === 'truncate') && first.some((d) => d.mode === 'flip'));
  t.notDeepEqual(Array.from({ length: 30 }, (_, i) => planDamage(8, i, kinds, images)), first);
});
