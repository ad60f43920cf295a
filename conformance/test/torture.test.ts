/**
 * The torture loop (issue 12): writers with 1..32 concurrent committers, blobs, packs and GC,
 * SIGKILLed at random moments, against FileStorage2, SQLite and the mixed pair, all at zero; the
 * harness catching lost commits (memory engine); and the checker catching lost, half-applied and
 * stray data in-process. HANDLERTON_TORTURE_SEED replays a seed, HANDLERTON_TORTURE_CYCLES runs longer.
 */
import test, { type ExecutionContext } from 'ava';
import { isHandlertonError, openDatabase, type Database } from '@handlerton/framework';
import { harnessTarget, type HarnessTarget } from '../src/harnesses/target.js';
import { formatTortureDetails, runTorture, type TortureOptions, type TortureReport } from '../src/torture/index.js';
import { checkTorture } from '../src/torture/check.js';
import { commitNext, openLayout, type CommitSettings } from '../src/torture/committer.js';
import { TortureModel } from '../src/torture/model.js';
import { PackWatch, type PackKillPoint } from '../src/torture/pack-watch.js';
import { ackLine, parseTortureLine } from '../src/torture/protocol.js';
import { encodeHead, type HeadState, type RootState } from '../src/torture/workload.js';

const SEED = process.env['HANDLERTON_TORTURE_SEED'] === undefined ? 20261207 : Number(process.env['HANDLERTON_TORTURE_SEED']);
const CYCLES = process.env['HANDLERTON_TORTURE_CYCLES'] === undefined ? undefined : Number(process.env['HANDLERTON_TORTURE_CYCLES']);

/** The memory engine keeps nothing on disk: its config has no path. */
const MEMORY: HarnessTarget = { label: 'memory', storageEngine: 'memory', blobEngine: 'memory', config: () => ({ engine: 'memory' }) };

async function torture(t: ExecutionContext, options: Omit<TortureOptions, 'cycles'> & { cycles: number }): Promise<TortureReport> {
  // No time limit worth asserting: on a quiet 2-core machine the three loops take about 80 s together, at load 30 over 10 min.
  t.timeout(1_800_000);
  // Short kill delays and 1 MiB blobs keep the file near its time budget on a loaded 2-core machine.
  const report = await runTorture({ seed: SEED, maxKillMs: 500, maxBlobBytes: 1024 * 1024, ...options, cycles: CYCLES ?? options.cycles });
  t.log(formatTortureDetails(report.details));
  t.log(report.summary);
  return report;
}

function assertClean(t: ExecutionContext, report: TortureReport): void {
  t.deepEqual(report.violations, [], report.summary);
  t.true(report.ok, report.summary);
  t.regex(report.summary, new RegExp(`^torture: engine=${report.engine.replace('+', '\\+')} cycles=\\d+ acknowledged=\\d+ lost=0 partial=0 failed_opens=0 packs=${report.details.packs} killed_in_pack=${report.details.killsInPack} seed=${report.seed}$`));
  // The writers really committed between the kills, concurrently, and the kills hit recovery and maintenance.
  t.true((report.counts['acknowledged'] ?? 0) > 0, 'some commits were acknowledged');
  t.true(report.details.creates > 0 && report.details.earlyKills + report.details.maintenanceKills > 0, formatTortureDetails(report.details));
  // Pack cycles (every 8th): a pack ran to its end and commits went on after it before the kill.
  t.true(report.details.packCycles > 0 && report.details.packCyclesCompleted > 0 && report.details.packs > 0, formatTortureDetails(report.details));
}

test('torture FileStorage2: concurrent committers, blobs, packs and GC, killed at random, all at zero', async (t) => {
  const report = await torture(t, { target: harnessTarget({ engine: 'filestorage2', options: { segmentSize: 256 * 1024 } }), cycles: 25 });
  assertClean(t, report);
  // Its I/O goes through the injected file system: a writer was killed right before one of its pack's last file operations.
  t.true(report.details.packOpKills > 0 && report.details.killsInPack >= report.details.packOpKills, formatTortureDetails(report.details));
});

test('torture SQLite: concurrent committers, blobs, packs and GC, killed at random, all at zero', async (t) => {
  assertClean(t, await torture(t, { target: harnessTarget({ engine: 'sqlite' }), cycles: 25 }));
});

test('torture FileStorage2 records + SQLite blobs, all at zero', async (t) => {
  assertClean(t, await torture(t, { target: harnessTarget({ engine: 'filestorage2', blobs: 'sqlite' }), cycles: 25 }));
});

test('the torture harness catches lost commits (the memory engine keeps nothing across processes)', async (t) => {
  const report = await runTorture({ target: MEMORY, cycles: 2, seed: SEED, earlyKillRate: 0, maintenanceKillRate: 0, maxBlobBytes: 64 * 1024 });
  t.false(report.ok);
  t.true((report.counts['lost'] ?? 0) > 0, report.summary);
  t.true(report.violations.some((v) => v.message.includes('lost') || v.message.includes('missing')), JSON.stringify(report.violations));
  t.is(report.violations[0]?.replay?.['seed'], SEED);
  t.regex(report.summary, /^torture: engine=memory cycles=1 acknowledged=\d+ lost=[1-9]\d* partial=\d+ failed_opens=0 packs=\d+ killed_in_pack=\d+ seed=\d+$/);
});

test('bad torture options are rejected before anything is spawned', async (t) => {
  const target = harnessTarget({ engine: 'filestorage2' });
  for (const options of [{ target, cycles: 0 }, { target, cycles: 1, minKillMs: 10, maxKillMs: 5 }, { target, cycles: 1, seed: -1 }, { target, cycles: 1, maxCommitters: 33 }, { target, cycles: 1, earlyKillRate: 0.9, maintenanceKillRate: 0.2 }, { target, cycles: 1, packCycleEvery: -1 }, { target, cycles: 1, packCycleEvery: 1.5 }]) {
    const error = await t.throwsAsync(runTorture(options));
    t.true(isHandlertonError(error, 'HANDLERTON_INVALID_ARGUMENT'), String(error));
  }
});

test('ACK lines round-trip through the parser', (t) => {
  const created = new Map([[0, 17n], [5, 123456789012345678n]]);
  t.deepEqual(parseTortureLine(ackLine(3, 42, 1883928432658612224n, 2, created)), { type: 'ack', c: 3, seq: 42, tid: 1883928432658612224n, attempts: 2, created });
  t.deepEqual(parseTortureLine(ackLine(0, 1, 5n, 1, new Map())), { type: 'ack', c: 0, seq: 1, tid: 5n, attempts: 1, created: new Map() });
  t.is(parseTortureLine('ACK 1 2 3').type, 'unknown');
  t.deepEqual(parseTortureLine('READY 1 0,4'), { type: 'ready', deletes: true, seqs: [0, 4] });
  t.deepEqual(parseTortureLine('MAINT pack'), { type: 'maint', op: 'pack' });
  t.deepEqual(parseTortureLine('MAINTED gc'), { type: 'mainted', op: 'gc', ops: undefined });
  t.deepEqual(parseTortureLine('MAINTED pack 15 12'), { type: 'mainted', op: 'pack', ops: { ops: 15, lastRename: 12 } });
  t.is(parseTortureLine('MAINTED pack 15').type, 'unknown');
  t.deepEqual(parseTortureLine('PACKKILL 12 renameSync seg-1-g1.fs2.tmp'), { type: 'packkill', op: 12, call: 'renameSync', file: 'seg-1-g1.fs2.tmp' });
  t.is(parseTortureLine('PACKKILL x renameSync f').type, 'unknown');
});

test('PackWatch counts only the pack\'s own file operations and stops right before the chosen one', async (t) => {
  const { mkdtemp, readdir, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'torture-packwatch-'));
  const points: PackKillPoint[] = [];
  const watch = new PackWatch((point) => points.push(point), () => {
    throw new Error('killed here');
  });
  const config = { engine: 'filestorage2', path: join(dir, 'data') };
  try {
    let db = await openDatabase(config, { fs: watch.fs });
    let oid = 0n;
    const commit = (n: number): Promise<void> => db.transaction(async (tx) => {
      if (oid === 0n) oid = await tx.create(new Uint8Array(100).fill(n));
      else await tx.write(oid, new Uint8Array(100).fill(n));
    });
    for (let n = 1; n <= 3; n++) await commit(n);
    // A commit runs alongside the pack: its fdatasync is not the pack's.
    const [packed] = await Promise.all([watch.run(undefined, () => db.pack()), commit(4)]);
    t.deepEqual(points, []);
    t.true(packed.lastRename > 0 && packed.ops > packed.lastRename, JSON.stringify(watch.trace));
    t.is(watch.trace.length, packed.ops);
    t.regex(watch.trace[packed.lastRename - 1] ?? '', /^renameSync .*\.tmp$/);
    t.false(watch.trace.some((op) => op.startsWith('fdatasync')), JSON.stringify(watch.trace));
    // The next pack is stopped right before its publishing rename: the output is never renamed into place.
    await commit(5);
    const error = await t.throwsAsync(watch.run(packed.lastRename, () => db.pack()));
    t.true(String(error?.message).includes('killed here'), String(error));
    t.is(points.length, 1);
    t.like(points[0], { op: packed.lastRename, call: 'renameSync' });
    t.regex(points[0]?.file ?? '', /\.tmp$/);
    await db.close().catch(() => undefined);
    t.false((await readdir(join(dir, 'data'))).includes((points[0]?.file ?? '').replace(/\.tmp$/, '')), 'the pack output was not published');
    // Nothing acknowledged was lost: the last commit reads back.
    db = await openDatabase(config);
    const snapshot = await db.snapshot();
    t.deepEqual([...(await snapshot.read(oid)).data], [...new Uint8Array(100).fill(5)]);
    await snapshot.close();
    await db.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A memory database with `count` acknowledged transactions per committer (0..committers-1), and the model. */
async function committed(committers: number, count: number): Promise<{ db: Database; model: TortureModel; root: RootState; heads: HeadState[]; settings: CommitSettings }> {
  const db = await openDatabase('memory:');
  const model = new TortureModel(SEED, 256 * 1024);
  const { root, heads, initTid } = await openLayout(db);
  model.initAck = initTid;
  model.deletes = true;
  const settings: CommitSettings = { seed: SEED, maxBlobBytes: 256 * 1024, deletes: true };
  for (let c = 0; c < committers; c++) {
    for (let i = 0; i < count; i++) {
      const done = await commitNext(db, root, heads[c]!, settings);
      must(model.apply(c, done.head.seq, done.tid, done.created) === undefined);
      model.committer(c).acked = done.head.seq;
      heads[c] = done.head;
    }
  }
  return { db, model, root, heads, settings };
}

function must(condition: boolean): void {
  if (!condition) throw new Error('setup failed');
}

test('the checker passes a correct state, then learns a committed in-flight transaction whole', async (t) => {
  const { db, model, root, heads, settings } = await committed(3, 6);
  try {
    const clean = await checkTorture(db, model);
    t.deepEqual(clean.problems, []);
    t.true(clean.objects > 0);
    // Committer 1 commits one more transaction that was never acknowledged: present means present whole.
    const done = await commitNext(db, root, heads[1]!, settings);
    const learned = await checkTorture(db, model);
    t.deepEqual(learned.problems, []);
    t.is(learned.inFlightCommitted, 1);
    t.is(model.committer(1).last, done.head.seq);
    const again = await checkTorture(db, model);
    t.deepEqual(again.problems, []);
    t.is(again.digest, learned.digest);
  } finally {
    await db.close();
  }
});

test('the checker reports a changed acknowledged object as lost and a half-applied transaction as partial', async (t) => {
  const { db, model } = await committed(2, 8);
  try {
    const live = [...model.objects.values()].find((o) => o.state === 'live' && o.kind === 'record');
    t.truthy(live);
    // An acknowledged record with other bytes.
    await db.transaction(async (tx) => tx.write(live!.oid, new Uint8Array([1, 2, 3])));
    const changed = await checkTorture(db, model);
    t.true(changed.problems.some((p) => p.kind === 'lost' && p.message.includes(`oid ${live!.oid}`)), JSON.stringify(changed.problems));
  } finally {
    await db.close();
  }
  const second = await committed(2, 8);
  try {
    // A head that claims the next transaction while none of its objects were written: half applied.
    const head = second.heads[0]!;
    await second.db.transaction(async (tx) => tx.write(second.root.heads[0]!, encodeHead({ ...head, seq: head.seq + 1 })));
    const half = await checkTorture(second.db, second.model);
    t.true(half.problems.some((p) => p.kind === 'partial'), JSON.stringify(half.problems));
    // A stray object no committed transaction wrote.
    const third = await committed(1, 3);
    try {
      await third.db.transaction(async (tx) => tx.create(new Uint8Array([9])));
      const stray = await checkTorture(third.db, third.model);
      t.true(stray.problems.some((p) => p.kind === 'partial' && p.message.includes('no committed transaction wrote them')), JSON.stringify(stray.problems));
    } finally {
      await third.db.close();
    }
  } finally {
    await second.db.close();
  }
});

test('the torture CLI: --help exits 0, a missing --cycles or a bad flag exits 2', async (t) => {
  const { main } = await import('../src/torture/cli.js');
  const log = console.log;
  const error = console.error;
  console.log = () => undefined;
  console.error = () => undefined;
  try {
    t.is(await main(['--help']), 0);
    t.is(await main(['--engine', 'filestorage2']), 2);
    t.is(await main(['--engine', 'filestorage2', '--cycles', 'x']), 2);
    t.is(await main(['--engine', 'filestorage2', '--cycles', '1', '--max-committers', '40']), 2);
    t.is(await main(['--cycles', '1']), 2);
  } finally {
    console.log = log;
    console.error = error;
  }
});

test('16 concurrent committers on FileStorage2 (no kill): every conflict retried, the shared record exact in commit order', async (t) => {
  t.timeout(600_000);
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'torture-concurrent-'));
  const db = await openDatabase({ engine: 'filestorage2', path: join(dir, 'data') });
  try {
    const model = new TortureModel(SEED, 256 * 1024);
    const { root, heads, initTid } = await openLayout(db);
    model.initAck = initTid;
    model.deletes = true;
    const settings: CommitSettings = { seed: SEED, maxBlobBytes: 256 * 1024, deletes: true };
    let retries = 0;
    await Promise.all(
      heads.slice(0, 16).map(async (start) => {
        let head = start;
        for (let i = 0; i < 4; i++) {
          const done = await commitNext(db, root, head, settings);
          retries += done.attempts - 1;
          must(model.apply(head.c, done.head.seq, done.tid, done.created) === undefined);
          model.committer(head.c).acked = done.head.seq;
          head = done.head;
        }
      }),
    );
    const check = await checkTorture(db, model);
    t.deepEqual(check.problems, []);
    t.is(model.committers.slice(0, 16).reduce((sum, c) => sum + c.acked, 0), 64);
    t.log(`${retries} conflict retries, ${model.shared.length} shared appends`);
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
