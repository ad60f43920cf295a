/**
 * The packages as other people's projects get them: every package is packed with `npm pack` and
 * installed from the tarballs into projects outside the repository. An application opens each
 * engine (PostgreSQL on the throwaway server) and the `handlerton` CLI runs; the example third-party
 * engine, installed as a package, passes the conformance CLI run by package name from its own
 * directory. Tarballs must hold what they need and nothing else (no tests, sources or local files).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { startTestServerOrSkip } from '@handlerton/postgres/testing';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGES = ['framework', 'plugins/memory', 'plugins/filestorage2', 'plugins/sqlite-blobs', 'plugins/postgres', 'conformance', 'examples/engine-jsonl'];
const NPM_ENV = { ...process.env, npm_config_nodedir: '/usr', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

/** Runs a command; throws with its output when it fails. */
function run(command: string, args: readonly string[], cwd: string, timeout = 300_000): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: NPM_ENV, timeout });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** `npm pack` of every package into `dir`; the tarball path and file list of each, by package name. */
function packAll(dir: string): Map<string, { tarball: string; files: string[] }> {
  const packed = new Map<string, { tarball: string; files: string[] }>();
  mkdirSync(dir, { recursive: true });
  for (const pkg of PACKAGES) {
    const out = run('npm', ['pack', '--json', '--pack-destination', dir], join(ROOT, pkg));
    const [info] = JSON.parse(out.stdout) as { name: string; filename: string; files: { path: string }[] }[];
    packed.set(info!.name, { tarball: join(dir, info!.filename), files: info!.files.map((f) => f.path) });
  }
  return packed;
}

/** A project at `dir` depending on `names` from their tarballs, installed. */
function installProject(dir: string, packed: Map<string, { tarball: string }>, names: readonly string[]): void {
  mkdirSync(dir, { recursive: true });
  const dependencies = Object.fromEntries(names.map((name) => [name, `file:${packed.get(name)!.tarball}`]));
  // Packages that depend on each other are resolved to the same tarballs, never to the registry.
  const overrides = Object.fromEntries([...packed].map(([name, { tarball }]) => [name, `file:${tarball}`]));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'outside-project', private: true, type: 'module', dependencies, overrides }, null, 2));
  // better-sqlite3's native build is the one `npm ci` made for this Node (same version): copied, not rebuilt.
  run('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-package-lock'], dir);
  const built = join(ROOT, 'node_modules', 'better-sqlite3', 'build');
  const target = join(dir, 'node_modules', 'better-sqlite3');
  if (existsSync(target)) {
    const version = (path: string): string => (JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as { version: string }).version;
    if (version(target) !== version(join(ROOT, 'node_modules', 'better-sqlite3'))) throw new Error('better-sqlite3 versions differ: cannot reuse the native build');
    cpSync(built, join(target, 'build'), { recursive: true });
  }
}

const APP = `
import { openDatabase } from '@handlerton/framework';
const configs = JSON.parse(process.argv[2]);
for (const config of configs) {
  const db = await openDatabase(config);
  try {
    const text = new TextEncoder();
    const oid = await db.transaction(async (tx) => tx.create(text.encode('hello from outside')));
    const blobOid = await db.transaction(async (tx) => {
      const blob = await tx.createBlob();
      const handle = await blob.open('w');
      await handle.write(text.encode('blob bytes'));
      await handle.close();
      return blob.oid;
    });
    const snapshot = await db.snapshot();
    try {
      const record = new TextDecoder().decode((await snapshot.read(oid)).data);
      const reader = await (await snapshot.blob(blobOid)).open('r');
      const blob = new TextDecoder().decode(await reader.read(100));
      await reader.close();
      console.log(JSON.stringify({ engine: typeof config === 'string' ? config : config.engine, record, blob }));
    } finally {
      await snapshot.close();
    }
  } finally {
    await db.close();
  }
}
`;

const started = await startTestServerOrSkip();

test.after.always('stop the PostgreSQL test server', async () => {
  if ('server' in started) await started.server.stop();
});

test.serial('packed tarballs: an application outside the repository opens every engine; the example engine passes the conformance CLI by package name', async (t) => {
  t.timeout(900_000);
  const work = mkdtempSync(join(tmpdir(), 'ht-packed-'));
  try {
    const packed = packAll(join(work, 'tarballs'));
    t.deepEqual([...packed.keys()].sort(), [
      '@acme/handlerton-jsonl', '@handlerton/conformance', '@handlerton/filestorage2', '@handlerton/framework', '@handlerton/memory', '@handlerton/postgres', '@handlerton/sqlite-blobs',
    ]);
    for (const [name, { files }] of packed) {
      t.true(files.includes('README.md'), `${name} ships its README`);
      t.true(files.includes('LICENSE'), `${name} ships the license`);
      t.true(files.some((f) => f.endsWith('index.d.ts')), `${name} ships type declarations`);
      const stray = files.filter((f) => /(^|\/)(test|src)\/.*\.ts$/.test(f) && !f.endsWith('.d.ts') || f.endsWith('.tsbuildinfo') || f.includes('node_modules'));
      t.deepEqual(stray, [], `${name} ships no sources, tests or build state`);
    }

    t.true(packed.get('@handlerton/conformance')!.files.includes('ENGINE-AUTHORS.md'), 'the engine-author guide ships with the suite');

    // An application: every engine by configuration, and the CLI from the framework's bin.
    const app = join(work, 'app');
    installProject(app, packed, ['@handlerton/framework', '@handlerton/memory', '@handlerton/filestorage2', '@handlerton/sqlite-blobs', '@handlerton/postgres']);
    writeFileSync(join(app, 'app.mjs'), APP);
    const configs: unknown[] = ['memory:', 'filestorage2:./fs-data', 'sqlite:./data.sqlite'];
    if ('server' in started) {
      configs.push({ engine: 'postgres', path: started.server.url, options: { schema: started.server.newSchemaName('packed'), poolSize: 2 } });
    } else {
      t.false(started.required, `PostgreSQL is required here but missing: ${started.skip}`);
      t.log(`PostgreSQL left out: ${started.skip}`);
    }
    const out = run(process.execPath, ['app.mjs', JSON.stringify(configs)], app).stdout.trim().split('\n');
    t.is(out.length, configs.length, out.join('\n'));
    for (const line of out) t.like(JSON.parse(line) as object, { record: 'hello from outside', blob: 'blob bytes' });
    const info = run(process.execPath, [join(app, 'node_modules', '.bin', 'handlerton'), 'info', 'filestorage2:./fs-data', '--json'], app);
    t.regex(info.stdout, /"storage"/);

    // A third-party engine author: the example engine's package, its conformance run by package name.
    const engine = join(work, 'engine-author');
    installProject(engine, packed, ['@acme/handlerton-jsonl', '@handlerton/conformance', '@handlerton/framework', '@handlerton/memory']);
    const conformance = spawnSync(
      process.execPath,
      [join(engine, 'node_modules', '.bin', 'handlerton-conformance'), '--engine', '@acme/handlerton-jsonl', '--blobs', 'memory', '--quiet'],
      { cwd: engine, encoding: 'utf8', timeout: 600_000 },
    );
    const failures = conformance.stdout.split('\n').filter((line, i, lines) => line.startsWith('FAIL') || lines[i - 1]?.startsWith('FAIL'));
    t.is(conformance.status, 0, `${failures.join('\n')}\n${conformance.stdout.slice(-1500)}${conformance.stderr}`);
    t.regex(conformance.stdout, /^\d+ passed, 0 failed, \d+ skipped \(suite [\d.]+, engine jsonl\+memory\)$/m);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
