/** The CLI and the node:test adapter, run as a third party would run them. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));

test('the CLI runs the memory engine, prints the matrix and writes JSON and JUnit reports', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hc-cli-'));
  try {
    const json = join(dir, 'report.json');
    const junit = join(dir, 'report.xml');
    const run = spawnSync(process.execPath, [cli, '--engine', 'memory', '--areas', 'transactions,mvcc,blobs,durability', '--json', json, '--junit', junit, '--quiet'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    t.is(run.status, 0, run.stdout + run.stderr);
    t.regex(run.stdout, /engine\s+manifest\s+transactions/);
    t.regex(run.stdout, /^memory\s+0\/10\/0\s+\d+\/\d+\/0/m);
    const report = JSON.parse(await readFile(json, 'utf8')) as {
      suiteVersion: string;
      engine: string;
      declaredCapabilities: { storage: Record<string, boolean>; blobs: Record<string, unknown> };
      results: { id: string; area: string; title: string; rule?: string[]; status: string; reason?: string }[];
    };
    t.is(report.engine, 'memory');
    t.is(typeof report.suiteVersion, 'string');
    t.is(report.declaredCapabilities.storage['durable'], false);
    t.is(report.declaredCapabilities.blobs['mode'], 'dataTransactional');
    t.true(report.results.length >= 120);
    const durable = report.results.find((r) => r.id === 'durability.records-survive-reopen');
    t.is(durable?.status, 'skip');
    t.regex(durable?.reason ?? '', /durable=false/);
    t.deepEqual(durable?.rule, ['capabilities.ts#StorageCapabilities.durable'], 'each result cites the contract rule of its case');
    t.true(report.results.every((r) => Array.isArray(r.rule) && r.rule.length > 0));
    t.true(report.results.filter((r) => r.area === 'transactions').every((r) => r.status === 'pass'));
    const packing = report.results.find((r) => r.area === 'packing');
    t.deepEqual([packing?.status, packing?.reason], ['skip', 'area packing not selected (transactions,mvcc,blobs,durability)']);
    const xml = await readFile(junit, 'utf8');
    t.regex(xml, /<testsuites name="handlerton-conformance/);
    t.regex(xml, /<skipped message="capability durable=false"\/>/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the CLI lists the catalogue and rejects a missing --engine', (t) => {
  const list = spawnSync(process.execPath, [cli, '--list'], { encoding: 'utf8' });
  t.is(list.status, 0);
  const lines = list.stdout.trim().split('\n');
  t.true(lines.length >= 120);
  const line = lines.find((l) => l.startsWith('transactions.store-load-roundtrip\t'))?.split('\t');
  t.deepEqual(line, ['transactions.store-load-roundtrip', 'T2', '', 'storage.ts#Storage.load storage.ts#Storage.tpcFinish', 'a committed store loads back with its bytes and the tid returned by tpcFinish'], 'id, source, requirements, rules, title');
  const bad = spawnSync(process.execPath, [cli], { encoding: 'utf8' });
  t.is(bad.status, 2);
  const unknown = spawnSync(process.execPath, [cli, '--engine', 'no-such-engine-xyz'], { encoding: 'utf8' });
  t.is(unknown.status, 2);
  t.regex(unknown.stderr, /HANDLERTON_UNKNOWN_ENGINE/);
});

test('the node:test adapter runs cases and reports unclaimed capabilities as skips with reasons', (t) => {
  const file = fileURLToPath(new URL('./fixtures/node-test-memory.js', import.meta.url));
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], { encoding: 'utf8', timeout: 120_000 });
  t.is(run.status, 0, run.stdout + run.stderr);
  t.regex(run.stdout, /ok \d+ - memory › transactions › transactions\.store-load-roundtrip/);
  t.regex(run.stdout, /# SKIP capability durable=false/);
  t.regex(run.stdout, /# fail 0/);
});

test('torture refuses, as a usage error, a target whose blobs keep nothing on disk (it ran and reported every cycle as a failed open before)', (t) => {
  const run = spawnSync(process.execPath, [cli, 'torture', '--engine', 'filestorage2', '--blobs', 'memory', '--cycles', '2'], { encoding: 'utf8', timeout: 120_000 });
  t.is(run.status, 2, run.stdout + run.stderr);
  t.regex(run.stderr, /the blob engine "memory" keeps nothing on disk: give --blobs a durable blob engine/);
  t.is(run.stdout, '');
});
