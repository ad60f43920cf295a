#!/usr/bin/env node
// Packs every publishable package (and the example engine) with `npm pack` into ./packed/ (or the
// directory given as the first argument), for installing handlerton into projects outside the
// repository before (or instead of) publishing. Run `npm run build` first.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const destination = resolve(process.argv[2] ?? join(root, 'packed'));
const packages = ['framework', 'plugins/memory', 'plugins/filestorage2', 'plugins/sqlite-blobs', 'plugins/postgres', 'conformance', 'examples/engine-jsonl'];
mkdirSync(destination, { recursive: true });
for (const pkg of packages) {
  const run = spawnSync('npm', ['pack', '--pack-destination', destination], { cwd: join(root, pkg), encoding: 'utf8' });
  if (run.status !== 0) {
    process.stderr.write(run.stderr);
    process.exit(1);
  }
  console.log(join(destination, run.stdout.trim().split('\n').at(-1)));
}
