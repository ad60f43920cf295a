/**
 * The kill -9 crash test: real writer processes SIGKILLed mid-stream against FileStorage2, SQLite
 * and the mixed pair, with every invariant of runKillLoop checked after each kill. Set
 * HANDLERTON_CRASH_SEED to replay a failure and HANDLERTON_CRASH_CYCLES to run longer.
 */
import test, { type ExecutionContext } from 'ava';
import { isHandlertonError, openDatabase, ROOT_OID, type Database } from '@handlerton/framework';
import { formatKillLoopReport, runKillLoop, type KillLoopOptions, type KillLoopReport } from '../src/crash/index.js';
import { CrashModel } from '../src/crash/verify.js';
import { commitTransaction, readWriterState } from '../src/crash/workload-writer.js';
import { recordContent } from '../src/crash/workload.js';

const SEED = process.env['HANDLERTON_CRASH_SEED'] === undefined ? 20261121 : Number(process.env['HANDLERTON_CRASH_SEED']);
const CYCLES = process.env['HANDLERTON_CRASH_CYCLES'] === undefined ? undefined : Number(process.env['HANDLERTON_CRASH_CYCLES']);

async function loop(t: ExecutionContext, options: KillLoopOptions): Promise<KillLoopReport> {
  // Generous: on a loaded 2-core machine a 30-cycle SQLite loop took 4.5 min (1.8 min when quiet).
  t.timeout(540_000);
  const report = await runKillLoop({ seed: SEED, ...options, cycles: CYCLES ?? options.cycles });
  t.log(formatKillLoopReport(report));
  return report;
}

function assertSurvives(t: ExecutionContext, report: KillLoopReport): void {
  t.deepEqual(report.violations, [], formatKillLoopReport(report));
  // The writers were really killed mid-stream: on average at least one acknowledged commit per cycle.
  t.true(report.acknowledged >= report.cycles, `only ${report.acknowledged} commits acknowledged in ${report.cycles} cycles`);
  t.true(report.cyclesWithCommits * 3 >= report.cycles, `only ${report.cyclesWithCommits} of ${report.cycles} cycles committed anything`);
  t.true(report.committed >= report.acknowledged, 'every acknowledged commit is still there at the end');
}

test('FileStorage2: every acknowledged commit survives kill -9', async (t) => {
  // 128 KiB segments and a pack every 25 transactions: writers also die while sealing and packing.
  const config = (dir: string) => ({ engine: 'filestorage2', path: dir, options: { segmentSize: 128 * 1024 } });
  assertSurvives(t, await loop(t, { config, cycles: 30, packEvery: 25 }));
});

test('SQLite: every acknowledged commit survives kill -9', async (t) => {
  assertSurvives(t, await loop(t, { config: (dir) => `sqlite:${dir}.db`, cycles: 30, packEvery: 10 }));
});

test('FileStorage2 storage + SQLite blobs: records and blob bytes survive kill -9', async (t) => {
  const report = await loop(t, {
    config: (dir) => ({ storage: `filestorage2:${dir}/records`, blobs: `sqlite:${dir}/blobs.db` }),
    cycles: 10,
    blobs: true,
    packEvery: 4,
    // A transaction writes one or two blobs of up to 448 KiB and syncs both files: give the writer time
    // to commit some even on a loaded machine (at 100..1000 ms, 2 of 10 cycles committed under load 10).
    minKillMs: 300,
    maxKillMs: 2000,
    // Half the kills count from the first acknowledged commit: on a loaded machine a writer may not
    // finish one commit of up to 896 KiB within 2 s of READY (6 of 10 cycles committed nothing at load 35).
    ackKillRate: 0.5,
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

/** A memory database holding workload transactions 1..count, and a model that acknowledged them. */
async function committed(count: number): Promise<{ db: Database; model: CrashModel }> {
  const db = await openDatabase('memory:');
  const model = new CrashModel(true);
  let state = await readWriterState(db);
  for (let seq = 1; seq <= count; seq++) {
    state = await commitTransaction(db, seq, state, true);
    model.acknowledge(seq, db.lastTransaction());
  }
  return { db, model };
}

test('the checker accepts a correct history and the same state twice', async (t) => {
  const { db, model } = await committed(6);
  const first = await model.check(db);
  const second = await model.check(db);
  t.deepEqual(first.problems, []);
  t.is(first.seq, 6);
  t.is(second.digest, first.digest);
  await db.close();
});

test('the checker reports a partial transaction: a later write without its root and manifest', async (t) => {
  const { db, model } = await committed(4);
  t.deepEqual((await model.check(db)).problems, []);
  const hot = (await readWriterState(db)).root?.hot[0];
  if (hot === undefined) return t.fail('no hot record');
  await db.transaction(async (tx) => {
    await tx.write(hot, recordContent(5, 100));
    await tx.create(recordContent(5, 0));
  });
  const problems = (await model.check(db)).problems.join('\n');
  t.regex(problems, /partly visible/);
  t.regex(problems, /has serial/);
  t.regex(problems, /no committed transaction wrote them/);
  await db.close();
});

test('the checker reports a lost acknowledged commit and wrong bytes', async (t) => {
  const { db, model } = await committed(3);
  model.acknowledge(4, db.lastTransaction() + 1n);
  t.regex((await model.check(db)).problems.join('\n'), /acknowledged transaction 4 .* lost/);
  const other = await committed(3);
  t.deepEqual((await other.model.check(other.db)).problems, []);
  const snapshot = await other.db.snapshot();
  const root = await snapshot.read(ROOT_OID);
  await snapshot.close();
  const state = await readWriterState(other.db);
  const victim = state.previousFirst;
  if (victim === undefined) return t.fail('no first record');
  await other.db.transaction(async (tx) => {
    await tx.write(victim, new TextEncoder().encode('not the workload bytes'));
    await tx.write(ROOT_OID, root.data, { refs: root.refs });
  });
  t.regex((await other.model.check(other.db)).problems.join('\n'), /bytes differ/);
  await db.close();
  await other.db.close();
});
