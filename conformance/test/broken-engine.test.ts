/**
 * The suite proves it catches bugs: each deliberately broken engine (the memory engine with one
 * rule per area broken) must fail the matching cases, and the CLI must exit non-zero for one.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CATALOGUE, runCases } from '../src/index.js';
import { BROKEN_ENGINES } from './fixtures/broken-engines.js';

for (const broken of BROKEN_ENGINES) {
  test(`the suite catches a broken ${broken.area} rule: ${broken.rule}`, async (t) => {
    const cases = CATALOGUE.filter((c) => c.area === broken.area || broken.mustFail.includes(c.id));
    const results = await runCases(cases, broken.harness, { timeoutMs: 30_000, concurrency: 4 });
    const failed = new Set(results.filter((r) => r.status === 'fail').map((r) => r.id));
    for (const id of broken.mustFail) t.true(failed.has(id), `${id} must fail against broken(${broken.area})`);
    t.true(results.some((r) => r.status === 'fail' && r.area === broken.area), `some ${broken.area} case fails`);
  });
}

test('the CLI exits non-zero and reports failures for a broken engine', (t) => {
  const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
  const plugin = fileURLToPath(new URL('./fixtures/broken-plugin.js', import.meta.url));
  const run = spawnSync(process.execPath, [cli, '--engine', plugin, '--areas', 'conflicts', '--quiet'], { encoding: 'utf8', timeout: 60_000 });
  t.is(run.status, 1, run.stderr);
  t.regex(run.stdout, /FAIL conflicts\.stale-serial/);
  t.regex(run.stdout, /conflicts/);
});
