/** "claimed, not verified": claims judged against harness reports, in the CLI's matrix, JSON and JUnit. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blobCapabilities, storageCapabilities } from '@handlerton/framework';
import { verifyClaims } from '../src/harnesses/claims.js';
import type { HarnessKind, HarnessReport } from '../src/harnesses/harness-report.js';
import { parseHarnessKinds } from '../src/harnesses/run-harnesses.js';

const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const declared = {
  storage: storageCapabilities({ durable: true, crashSafe: true }),
  blobs: blobCapabilities({ mode: 'transactional', durable: true }),
};

function report(harness: HarnessKind, ok: boolean, extra: Partial<HarnessReport> = {}): HarnessReport {
  return { harness, engine: 'filestorage2', ok, counts: { lost: ok ? 0 : 1 }, summary: `${harness}: engine=filestorage2`, violations: [], durationMs: 1, ...extra };
}

test('with no harness run every claim is "claimed, not verified" and an unclaimed one says so', (t) => {
  const verdicts = verifyClaims({ ...declared, blobs: blobCapabilities({ mode: 'transactional', durable: false }) }, []);
  t.deepEqual(
    verdicts.map((v) => [v.claim, v.status]),
    [
      ['storage.crashSafe', 'claimed, not verified'],
      ['storage.durable', 'claimed, not verified'],
      ['blobs.durable', 'not claimed'],
    ],
  );
  t.deepEqual(verdicts[0]?.missing, [{ harness: 'torture', reason: 'not run' }]);
});

test('durable needs both faults and powerloss clean; a violation fails the claim; notVerified is not a pass', (t) => {
  const clean = verifyClaims(declared, [report('torture', true), report('faults', true), report('powerloss', true)]);
  t.true(clean.every((v) => v.status === 'verified'));
  const half = verifyClaims(declared, [report('faults', true)]);
  t.is(half.find((v) => v.claim === 'storage.durable')?.status, 'claimed, not verified');
  const broken = verifyClaims(declared, [report('faults', false), report('powerloss', true)]);
  t.is(broken.find((v) => v.claim === 'storage.durable')?.status, 'failed');
  const native = verifyClaims(declared, [report('faults', true), report('powerloss', false, { notVerified: 'no file I/O went through the injected fs' })]);
  const durable = native.find((v) => v.claim === 'storage.durable');
  t.is(durable?.status, 'claimed, not verified');
  t.deepEqual(durable?.missing, [{ harness: 'powerloss', reason: 'no file I/O went through the injected fs' }]);
});

test('an unknown --harness name is a typed error naming it', (t) => {
  const error = t.throws(() => parseHarnessKinds(['faults,chaos']));
  t.is((error as { code?: string }).code, 'HANDLERTON_INVALID_ARGUMENT');
  t.regex(error?.message ?? '', /chaos/);
  t.deepEqual(parseHarnessKinds(['faults, torture', 'faults']), ['faults', 'torture']);
});

test('the CLI flags unverified claims in the matrix, JSON and JUnit, and --require-verified fails on them', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hc-claims-'));
  try {
    const torture = join(dir, 'torture.json');
    await writeFile(torture, JSON.stringify(report('torture', true)));
    const json = join(dir, 'report.json');
    const junit = join(dir, 'report.xml');
    const args = [cli, '--engine', 'filestorage2', '--areas', 'manifest', '--quiet', '--harness-report', torture, '--json', json, '--junit', junit];
    const run = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
    t.is(run.status, 0, run.stdout + run.stderr);
    t.regex(run.stdout, /filestorage2\s+storage\.crashSafe\s+verified \(verified by torture\)/);
    t.regex(run.stdout, /filestorage2\s+storage\.durable\s+claimed, not verified \(faults: not run; powerloss: not run\)/);
    const parsed = JSON.parse(await readFile(json, 'utf8')) as { claims: { claim: string; status: string }[]; harnesses: HarnessReport[] };
    t.deepEqual(
      parsed.claims.map((c) => c.status),
      ['verified', 'claimed, not verified', 'claimed, not verified'],
    );
    t.is(parsed.harnesses.length, 1);
    const xml = await readFile(junit, 'utf8');
    t.regex(xml, /<testsuite name="filestorage2\.claims" tests="3" failures="0" skipped="2"/);
    t.regex(xml, /name="storage\.durable" time="0"><skipped message="claimed, not verified/);
    const strict = spawnSync(process.execPath, [...args, '--require-verified'], { encoding: 'utf8', timeout: 120_000 });
    t.is(strict.status, 1, strict.stdout + strict.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
