/**
 * The corruption sweep against FileStorage2, SQLite and the mixed pair: every file kind damaged in
 * turn, every read checked. HANDLERTON_CORRUPTION_SEED replays a seed; HANDLERTON_CORRUPTION_STATES
 * runs more states per engine (the defaults keep the file near a minute on a loaded 2-core box).
 */
import { existsSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import { runCorruptionSweep, type CorruptionReport, type CorruptionSweepOptions } from '../src/corruption/index.js';

const SEED = process.env['HANDLERTON_CORRUPTION_SEED'] === undefined ? 20261207 : Number(process.env['HANDLERTON_CORRUPTION_SEED']);
const STATES = process.env['HANDLERTON_CORRUPTION_STATES'] === undefined ? undefined : Number(process.env['HANDLERTON_CORRUPTION_STATES']);
/** A tmpfs when there is one: the engines' fsyncs at open and close cost nothing there. */
const DIR = existsSync('/dev/shm') ? '/dev/shm' : undefined;

async function sweep(t: ExecutionContext, options: CorruptionSweepOptions): Promise<CorruptionReport> {
  t.timeout(600_000);
  const report = await runCorruptionSweep({ seed: SEED, ...options, states: STATES ?? options.states, ...(DIR === undefined ? {} : { dir: DIR }) });
  t.log(report.summary, `${(report.durationMs / 1000).toFixed(1)} s`, JSON.stringify(report.cuts), JSON.stringify(report.naming));
  for (const violation of report.violations) t.log(violation.message);
  return report;
}

/** Every kind was damaged at least once, and the damage was noticed somewhere. */
function assertCovered(t: ExecutionContext, report: CorruptionReport, kinds: readonly string[]): void {
  for (const kind of kinds) t.true((report.kinds[kind]?.states ?? 0) > 0, `kind ${kind} was never damaged: ${Object.keys(report.kinds).join(', ')}`);
  t.true(report.counts['detected']! > 0, 'some damage was detected');
  t.is(report.counts['states'], STATES ?? report.counts['states']);
}

test.serial('FileStorage2: damage in every file kind is CorruptionError naming file and offset, a torn-tail cut, or harmless; never wrong bytes', async (t) => {
  const report = await sweep(t, { engine: 'filestorage2', states: 100 });
  t.deepEqual(report.violations, []);
  t.true(report.ok);
  t.true(report.summary.startsWith(`corruption: engine=filestorage2 states=${report.counts['states']} silent=0 untyped=0`), report.summary);
  assertCovered(t, report, [
    'segment:header', 'segment:sealed-transactions', 'segment:packed-transactions', 'segment:active-transactions',
    'segment:index-pages', 'segment:page-crcs-and-fences', 'segment:bloom', 'segment:footer',
    'refs-journal', 'blob-chunk:data', 'blob-chunk:trailer', 'blob-format-marker',
  ]);
  t.is(report.naming.damagedFile, report.naming.detected, 'every CorruptionError named the damaged file');
  t.is(report.naming.offset, report.naming.detected, 'every CorruptionError carried an offset');
});

/**
 * SQLite and the mixed pair: no violation at all. A blob revision lost from the blob file's WAL while
 * records still reference it reads as CorruptionError (the Database checks the reference), and a
 * damaged record b-tree cannot turn a record into "absent" (misses are confirmed).
 */
function assertNoViolation(t: ExecutionContext, report: CorruptionReport): void {
  t.deepEqual(report.violations.map((v) => v.message), []);
  t.true(report.ok);
  t.true(/ silent=0 untyped=0 mistyped=0 /.test(report.summary), report.summary);
}

test.serial('SQLite: damage in the records and blob files and their WALs is CorruptionError or a torn-tail cut; never wrong bytes', async (t) => {
  const report = await sweep(t, { engine: 'sqlite', states: 30 });
  assertNoViolation(t, report);
  assertCovered(t, report, ['sqlite:file-header', 'sqlite:index-leaf', 'sqlite-wal:frame-page', 'sqlite-blobs:table-leaf', 'sqlite-blobs-wal:frame-page']);
});

test.serial('FileStorage2 records with SQLite blobs: never wrong bytes', async (t) => {
  const report = await sweep(t, { engine: 'filestorage2', blobs: 'sqlite', states: 30 });
  assertNoViolation(t, report);
  assertCovered(t, report, ['segment:index-pages', 'segment:active-transactions', 'sqlite-blobs:table-leaf', 'sqlite-blobs-wal:frame-page']);
});
