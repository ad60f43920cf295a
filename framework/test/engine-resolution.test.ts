/**
 * Engine packages are resolved where the application installed them (its working directory, its
 * main script, the package being developed there), not only from the framework's own location:
 * `handlerton-conformance --engine @acme/x` inside the engine's package and `openDatabase('@acme/x:…')`
 * from an application outside this repository failed with HANDLERTON_UNKNOWN_ENGINE before.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'ava';
import { resolvePackageEntry } from '../src/config/package-resolver.js';

const FRAMEWORK = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'index.js')).href;
const PLUGIN_SOURCE = (name: string) => `export const plugin = { name: ${JSON.stringify(name)}, parseOptions: () => ({}) };\n`;

/** Writes a package `name` whose ESM entry (behind conditional exports) exports a plugin shape. */
async function writeEnginePackage(dir: string, name: string): Promise<void> {
  await mkdir(join(dir, 'lib'), { recursive: true });
  const manifest = { name, type: 'module', exports: { '.': { types: './lib/main.d.ts', import: './lib/main.js' } } };
  await writeFile(join(dir, 'package.json'), JSON.stringify(manifest));
  await writeFile(join(dir, 'lib', 'main.js'), PLUGIN_SOURCE(`${name}-plugin`));
}

/** Runs `loadEnginePlugin(name)` in a fresh process whose working directory is `cwd`. */
function loadIn(cwd: string, name: string): { status: number | null; stdout: string; stderr: string } {
  const script =
    `import { loadEnginePlugin } from ${JSON.stringify(FRAMEWORK)};\n` +
    `try { const p = await loadEnginePlugin(${JSON.stringify(name)}); console.log('loaded ' + p.name); }\n` +
    `catch (e) { console.log('error ' + e.code + ': ' + e.message); process.exitCode = 3; }\n`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('an engine package installed in the application directory is found from there', async (t) => {
  const app = await mkdtemp(join(tmpdir(), 'ht-resolve-app-'));
  try {
    await writeEnginePackage(join(app, 'node_modules', '@acme', 'handlerton-fake'), '@acme/handlerton-fake');
    await mkdir(join(app, 'src', 'deep'), { recursive: true });
    const run = loadIn(join(app, 'src', 'deep'), '@acme/handlerton-fake');
    t.is(run.status, 0, run.stdout + run.stderr);
    t.is(run.stdout.trim(), 'loaded @acme/handlerton-fake-plugin');
  } finally {
    await rm(app, { recursive: true, force: true });
  }
});

test('inside the engine package itself, its own name resolves (self-reference), as the conformance CLI needs', async (t) => {
  const pkg = await mkdtemp(join(tmpdir(), 'ht-resolve-self-'));
  try {
    await writeEnginePackage(pkg, '@acme/handlerton-self');
    const run = loadIn(pkg, '@acme/handlerton-self');
    t.is(run.status, 0, run.stdout + run.stderr);
    t.is(run.stdout.trim(), 'loaded @acme/handlerton-self-plugin');
  } finally {
    await rm(pkg, { recursive: true, force: true });
  }
});

test('a package installed nowhere is HANDLERTON_UNKNOWN_ENGINE naming where it was looked for', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'ht-resolve-none-'));
  try {
    const run = loadIn(empty, '@acme/not-installed');
    t.is(run.status, 3, run.stderr);
    t.regex(run.stdout, /^error HANDLERTON_UNKNOWN_ENGINE: unknown engine "@acme\/not-installed".*could be imported from .*ht-resolve-none-/);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});

test('resolvePackageEntry reads string exports, root condition maps and main', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'ht-resolve-entry-'));
  try {
    const put = async (name: string, manifest: object): Promise<void> => {
      await mkdir(join(root, 'node_modules', name), { recursive: true });
      await writeFile(join(root, 'node_modules', name, 'package.json'), JSON.stringify({ name, ...manifest }));
    };
    await put('by-string', { exports: './a.js' });
    await put('by-conditions', { exports: { node: { import: './n.mjs', require: './n.cjs' }, default: './d.js' } });
    await put('by-main', { main: 'lib/m.js' });
    await put('bare', {});
    t.is(resolvePackageEntry('by-string', root), join(root, 'node_modules', 'by-string', 'a.js'));
    t.is(resolvePackageEntry('by-conditions', root), join(root, 'node_modules', 'by-conditions', 'n.mjs'));
    t.is(resolvePackageEntry('by-main', join(root, 'x', 'y')), join(root, 'node_modules', 'by-main', 'lib', 'm.js'));
    t.is(resolvePackageEntry('bare', root), join(root, 'node_modules', 'bare', 'index.js'));
    t.is(resolvePackageEntry('missing', root), undefined);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
