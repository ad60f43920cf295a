/**
 * The I/O fault sweep against the durable engines: FileStorage2 (injected fs, a stride of the
 * operations in all three fault modes), SQLite (its JavaScript file operations through the injected
 * fs and its native I/O through strace, a sample of calls per syscall) and the mixed pair. Every
 * count must be zero. HANDLERTON_FAULTS_STRIDE and HANDLERTON_FAULTS_SAMPLES run more; a missing
 * strace FAILS the SQLite tests (CI installs it in .ci/run).
 */
import test, { type ExecutionContext } from 'ava';
import type { HarnessReport } from '../src/harnesses/harness-report.js';
import { runFaultSweep, straceVersion, type FaultSweepOptions } from '../src/faults/index.js';

const STRIDE = Number(process.env['HANDLERTON_FAULTS_STRIDE'] ?? 29);
const SAMPLES = Number(process.env['HANDLERTON_FAULTS_SAMPLES'] ?? 1);

async function sweep(t: ExecutionContext, options: FaultSweepOptions): Promise<HarnessReport> {
  t.timeout(600_000);
  const report = await runFaultSweep(options);
  t.log(report.summary, `(${(report.durationMs / 1000).toFixed(1)} s)`);
  return report;
}

function assertClean(t: ExecutionContext, report: HarnessReport, minimumRuns: number): void {
  t.deepEqual(report.violations.map((v) => v.message), []);
  t.is(report.notVerified, undefined);
  for (const key of ['lost', 'partial', 'untyped', 'unopenable', 'unrefused', 'hangs']) t.is(report.counts[key], 0, key);
  t.true((report.counts['ops'] ?? 0) > 100, `only ${report.counts['ops']} operations counted`);
  t.true(Number(/ runs=(\d+)/.exec(report.summary)?.[1]) >= minimumRuns, report.summary);
  t.true(report.ok);
  t.regex(report.summary, /^faults: engine=\S+ ops=\d+ lost=0 partial=0 untyped=0 unopenable=0 /);
}

function requireStrace(t: ExecutionContext): void {
  if (straceVersion() === undefined) t.fail('strace is not installed: the SQLite native I/O fault sweep cannot run (apt-get install strace; .ci/run installs it)');
}

test('fault sweep: filestorage2 (injected fs, EIO / ENOSPC / short writes at every 29th operation) loses nothing', async (t) => {
  assertClean(t, await sweep(t, { target: { engine: 'filestorage2' }, stride: STRIDE }), 30);
});

test('fault sweep: sqlite (JavaScript file operations through the injected fs, native I/O through strace) loses nothing', async (t) => {
  requireStrace(t);
  const report = await sweep(t, {
    target: { engine: 'sqlite' },
    modes: ['EIO'],
    stride: Math.ceil(STRIDE / 3),
    syscalls: ['fsync', 'pwrite64', 'openat', 'unlink', 'ftruncate'],
    errnos: ['EIO'],
    samplesPerSyscall: SAMPLES,
  });
  assertClean(t, report, 5);
  t.true(/ native_ops=(\d+)/.test(report.summary) && Number(/ native_ops=(\d+)/.exec(report.summary)?.[1]) > 100, `strace saw too few native calls: ${report.summary}`);
  t.true(Number(/ injected=(\d+)/.exec(report.summary)?.[1]) >= 4, `strace injected too few faults: ${report.summary}`);
});

test('fault sweep: filestorage2 records + sqlite blobs (both mechanisms) loses nothing', async (t) => {
  requireStrace(t);
  const report = await sweep(t, {
    target: { engine: 'filestorage2', blobs: 'sqlite' },
    modes: ['ENOSPC'],
    stride: STRIDE * 2,
    syscalls: ['fsync', 'pwrite64'],
    errnos: ['ENOSPC'],
    samplesPerSyscall: SAMPLES,
  });
  assertClean(t, report, 4);
});
