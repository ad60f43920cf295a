// Runs the conformance durability area (including the crash case) against the SQLite engine with a
// harness whose crash() leaves the files exactly as a killed process would: it copies the database
// and its WAL while the engines are open (the on-disk state a SIGKILL leaves, page cache included),
// closes the engines, puts the copies back, drops the WAL index (-shm) and reopens.
// usage: node scripts/conformance-crash.mjs
import { copyFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CATALOGUE, harnessFromPlugin, runCases } from '../../../conformance/dist/src/index.js';
import { plugin } from '../dist/src/index.js';

const base = harnessFromPlugin(plugin);
const harness = {
  ...base,
  async crash(engines, location) {
    const files = readdirSync(location.dir).filter((f) => !f.endsWith('.crash') && (f === 'store' || f === 'store-wal'));
    for (const f of files) copyFileSync(join(location.dir, f), join(location.dir, `${f}.crash`));
    await Promise.all([engines.storage.close(), engines.blobs.close()]);
    for (const f of ['store', 'store-wal', 'store-shm']) rmSync(join(location.dir, f), { force: true });
    for (const f of files) copyFileSync(join(location.dir, `${f}.crash`), join(location.dir, f));
    for (const f of files) rmSync(join(location.dir, `${f}.crash`));
    if (!existsSync(join(location.dir, 'store'))) throw new Error('crash snapshot lost the database file');
    return base.factory(location);
  },
};
const cases = CATALOGUE.filter((c) => c.area === 'durability');
const results = await runCases(cases, harness, { concurrency: 1 });
for (const r of results) console.log(`${r.status.padEnd(4)} ${r.id}${r.reason ? `: ${r.reason}` : ''}`);
const failed = results.filter((r) => r.status === 'fail').length;
console.log(`${results.filter((r) => r.status === 'pass').length} passed, ${failed} failed, ${results.filter((r) => r.status === 'skip').length} skipped`);
process.exit(failed === 0 ? 0 : 1);
