/**
 * The kill -9 crash test: real writer processes SIGKILLed mid-stream against FileStorage2, SQLite
 * and the mixed pair, with every invariant of runKillLoop checked after each kill. Set
 * HANDLERTON_CRASH_SEED to replay a failure and HANDLERTON_CRASH_CYCLES to run longer.
 */
import test, { type ExecutionContext } from 'ava';
import { isHandlertonError } from '@handlerton/framework';
import { formatKillLoopReport, runKillLoop, type KillLoopOptions, type KillLoopReport } from '../src/crash/index.js';

const SEED = process.env['HANDLERTON_CRASH_SEED'] === undefined ? 20261121 : Number(process.env['HANDLERTON_CRASH_SEED']);
const CYCLES = process.env['HANDLERTON_CRASH_CYCLES'] === undefined ? undefined : Number(process.env['HANDLERTON_CRASH_CYCLES']);

async function loop(t: ExecutionContext, options: KillLoopOptions): Promise<KillLoopReport> {
  t.timeout(300_000);
  const report = await runKillLoop({ seed: SEED, ...options, cycles: CYCLES ?? options.cycles });
  t.log(formatKillLoopReport(report));
  return report;
}

function assertSurvives(t: ExecutionContext, report: KillLoopReport): void {
  t.deepEqual(report.violations, [], formatKillLoopReport(report));
  // The writers were really killed mid-stream: on average at least one acknowledged commit per cycle.
  t.true(report.acknowledged >= report.cycles, `only ${report.acknowledged} commits acknowledged in ${report.cycles} cycles`);
  t.true(report.cyclesWithCommits * 2 >= report.cycles, `only ${report.cyclesWithCommits} of ${report.cycles} cycles committed anything`);
  t.true(report.committed >= report.acknowledged, 'every acknowledged commit is still there at the end');
}

test('FileStorage2: every acknowledged commit survives kill -9', async (t) => {
  assertSurvives(t, await loop(t, { config: (dir) => `filestorage2:${dir}`, cycles: 30 }));
});

test('SQLite: every acknowledged commit survives kill -9', async (t) => {
  assertSurvives(t, await loop(t, { config: (dir) => `sqlite:${dir}.db`, cycles: 30 }));
});

test('FileStorage2 storage + SQLite blobs: records and blob bytes survive kill -9', async (t) => {
  const report = await loop(t, {
    config: (dir) => ({ storage: `filestorage2:${dir}/records`, blobs: `sqlite:${dir}/blobs.db` }),
    cycles: 10,
    blobs: true,
    // A transaction writes one or two blobs of up to 448 KiB: give the writer time to commit some.
    minKillMs: 50,
    maxKillMs: 600,
  });
  assertSurvives(t, report);
});

test('the harness catches lost commits (the memory engine keeps nothing across processes)', async (t) => {
  const report = await runKillLoop({ config: () => 'memory:', cycles: 2, seed: SEED, earlyKillRate: 0 });
  t.false(report.ok);
  t.true(report.violations.some((v) => v.message.includes('lost')), formatKillLoopReport(report));
  t.is(report.violations[0]?.seed, SEED);
});

test('bad options are rejected before anything is spawned', async (t) => {
  const config = (dir: string): string => `filestorage2:${dir}`;
  for (const options of [{ config, cycles: 0 }, { config, cycles: 1, minKillMs: 10, maxKillMs: 5 }, { config, cycles: 1, seed: -1 }]) {
    const error = await t.throwsAsync(runKillLoop(options));
    t.true(isHandlertonError(error, 'HANDLERTON_INVALID_ARGUMENT'), String(error));
  }
});
