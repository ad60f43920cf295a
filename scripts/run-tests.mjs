#!/usr/bin/env node
// Builds everything with `tsc -b`, runs each workspace's ava tests (TAP), and ends with one plain
// line "N passed, N failed, N skipped" (the line CI reads). Exits non-zero on any failure.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const ava = join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');

const build = spawnSync(process.execPath, [tsc, '-b'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const only = process.argv.slice(2);
const workspaces = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces;
const totals = { passed: 0, failed: 0, skipped: 0 };
let broken = false;

for (const workspace of workspaces) {
  if (only.length > 0 && !only.some((name) => workspace.includes(name))) continue;
  const dir = join(root, workspace);
  if (!hasTests(join(dir, 'dist', 'test'))) continue;
  console.log(`\n=== ${workspace} ===`);
  const counts = await runAva(dir);
  console.log(`--- ${workspace}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  totals.passed += counts.passed;
  totals.failed += counts.failed;
  totals.skipped += counts.skipped;
  if (counts.exitCode !== 0 && counts.failed === 0) {
    broken = true;
    totals.failed += 1;
    console.log(`--- ${workspace}: ava exited with ${counts.exitCode} without a failing test (crash or timeout)`);
  }
}

console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 || broken ? 1 : 0);

function hasTests(dir) {
  if (!existsSync(dir)) return false;
  return readdirSync(dir).some((name) => {
    const path = join(dir, name);
    return name.endsWith('.test.js') || (statSync(path).isDirectory() && hasTests(path));
  });
}

function runAva(cwd) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ava, '--tap'], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    const counts = { passed: 0, failed: 0, skipped: 0, exitCode: 0 };
    let buffer = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text) => {
      buffer += text;
      const lines = buffer.split('\n');
      buffer = lines.pop();
      for (const line of lines) handle(line);
    });
    child.on('close', (code) => {
      if (buffer) handle(buffer);
      counts.exitCode = code ?? 1;
      resolve(counts);
    });
    function handle(line) {
      process.stdout.write(line + '\n');
      if (/^ok \d+/.test(line)) {
        if (/# SKIP/i.test(line)) counts.skipped++;
        else if (!/# TODO/i.test(line)) counts.passed++;
      } else if (/^not ok \d+/.test(line)) {
        if (/# TODO/i.test(line)) return;
        counts.failed++;
      }
    }
  });
}
