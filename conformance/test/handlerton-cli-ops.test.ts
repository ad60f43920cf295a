/**
 * Operator tools of `handlerton` (issue 15), end to end as spawned processes: the default-database
 * config file (handlerton.json / HANDLERTON_CONFIG) and its precedence, pack and gc progress (quiet
 * on captured stderr, drawn on a pseudo-terminal), oids in hex in the errors the CLI prints, and a
 * PostgreSQL server that never answers (no server needed).
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, type Run } from './cli-run.js';

/** The environment without any default database. */
const { HANDLERTON_DB: _db, HANDLERTON_CONFIG: _config, ...CLEAN_ENV } = process.env;

/** Runs `handlerton ...args` in `cwd` with `env` added to a clean environment. */
function run(cwd: string, args: readonly string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 120_000, env: { ...CLEAN_ENV, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function storageEngine(r: Run): string {
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { engines: { storage: string } }).engines.storage;
}

/** A directory with the demo's FileStorage2 database at ./fs and SQLite database at ./s.db. */
async function withDatabases(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-ops-'));
  try {
    for (const config of ['filestorage2:./fs', 'sqlite:./s.db']) {
      const demo = run(dir, ['demo', config]);
      if (demo.status !== 0) throw new Error(`demo ${config} failed: ${demo.stderr}`);
    }
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('handlerton.json in the current directory names the database of commands given none', async (t) => {
  await withDatabases(async (dir) => {
    await writeFile(join(dir, 'handlerton.json'), JSON.stringify({ storage: 'filestorage2:./fs' }));
    t.is(storageEngine(run(dir, ['--json', 'info'])), 'filestorage2');
    const stats = run(dir, ['--json', 'stats']);
    t.is(stats.status, 0, stats.stderr);
    t.is((JSON.parse(stats.stdout) as { transactions: number }).transactions, 2);
    const log = run(dir, ['log']);
    t.is(log.status, 0, log.stderr);
    t.is(log.stdout.trim().split('\n').length, 2, 'the demo committed two transactions');
    for (const args of [['verify'], ['blob', 'ls'], ['gc', '--dry-run', '--keep', '0'], ['pack']]) {
      const r = run(dir, args);
      t.is(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});

test('HANDLERTON_CONFIG names the file; relative paths in it are relative to the file; argument > HANDLERTON_DB > file', async (t) => {
  await withDatabases(async (dir) => {
    await mkdir(join(dir, 'conf'));
    await writeFile(join(dir, 'conf', 'db.json'), JSON.stringify({ engine: 'sqlite', path: '../s.db', recordCacheBytes: 0 }));
    // A handlerton.json in the current directory is not read when HANDLERTON_CONFIG names a file.
    await writeFile(join(dir, 'handlerton.json'), JSON.stringify({ storage: 'filestorage2:./fs' }));
    const viaConfig = { HANDLERTON_CONFIG: 'conf/db.json' };
    t.is(storageEngine(run(dir, ['--json', 'info'], viaConfig)), 'sqlite-blobs', 'the named file wins over ./handlerton.json');
    t.is(storageEngine(run(join(dir, 'conf'), ['--json', 'info'], { HANDLERTON_CONFIG: join(dir, 'conf', 'db.json') })), 'sqlite-blobs', 'from another directory');
    t.is(storageEngine(run(dir, ['--json', 'info'], { ...viaConfig, HANDLERTON_DB: './fs' })), 'filestorage2', 'HANDLERTON_DB wins over the file');
    t.is(storageEngine(run(dir, ['--json', 'info', 'memory:'], { ...viaConfig, HANDLERTON_DB: './fs' })), 'memory', 'the argument wins over both');
    t.false(existsSync(join(dir, 'conf', 's.db')), 'nothing was created beside the file');
  });
});

test('a broken config file is a usage error (exit 2) naming the file and the field', async (t) => {
  await withDatabases(async (dir) => {
    const cases: [string, string, RegExp][] = [
      ['not-json.json', '{"storage": "filestorage2:./fs",', /HANDLERTON_INVALID_CONFIG: .*not-json\.json: not a readable JSON file/],
      ['array.json', '["filestorage2:./fs"]', /HANDLERTON_INVALID_CONFIG: .*array\.json: must hold a database config object/],
      ['unknown-field.json', JSON.stringify({ storage: 'filestorage2:./fs', bogus: 1 }), /HANDLERTON_INVALID_CONFIG: .*unknown-field\.json: .*bogus/],
      ['no-engine.json', JSON.stringify({ blobs: 'filestorage2:./fs' }), /HANDLERTON_INVALID_CONFIG: .*no-engine\.json: field "storage": config names no engine/],
      ['bad-option.json', JSON.stringify({ engine: 'filestorage2', path: './fs', options: { syncMode: 'sometimes' } }), /HANDLERTON_INVALID_CONFIG: .*bad-option\.json: .*storage\.options\.syncMode/],
      ['unknown-engine.json', JSON.stringify({ storage: 'nosuchengine:./x' }), /HANDLERTON_(INVALID_CONFIG|UNKNOWN_ENGINE): .*unknown-engine\.json: /],
      ['missing-db.json', JSON.stringify({ storage: 'filestorage2:./nowhere' }), /HANDLERTON_NOT_FOUND: .*missing-db\.json: .*nowhere/],
    ];
    for (const [name, text, expected] of cases) {
      await writeFile(join(dir, name), text);
      const r = run(dir, ['info'], { HANDLERTON_CONFIG: name });
      t.is(r.status, 2, `${name}: ${r.stderr}`);
      t.regex(r.stderr, expected, name);
      t.is(r.stderr.trim().split('\n').length, 1, `${name}: one line`);
    }
    t.false(existsSync(join(dir, 'nowhere')), 'an inspecting command created nothing');
    const missing = run(dir, ['info'], { HANDLERTON_CONFIG: 'absent.json' });
    t.is(missing.status, 2);
    t.regex(missing.stderr, /HANDLERTON_INVALID_CONFIG: HANDLERTON_CONFIG names .*absent\.json, which does not exist/);
    const none = run(dir, ['stats']);
    t.is(none.status, 2);
    t.regex(none.stderr, /HANDLERTON_INVALID_ARGUMENT: no database given: .*handlerton\.json.* or set HANDLERTON_DB/);
  });
});

test('pack and gc print nothing on a captured stderr (not a terminal)', async (t) => {
  await withDatabases((dir) => {
    for (const db of ['./fs', './s.db']) {
      for (const args of [['pack', db], ['gc', db, '--keep', '0'], ['gc', db, '--dry-run']]) {
        const r = run(dir, args);
        t.is(r.status, 0, r.stderr);
        t.is(r.stderr, '', `${args.join(' ')} wrote nothing to stderr`);
        t.not(r.stdout, '');
      }
    }
  });
});

const hasScript = spawnSync('script', ['-qec', 'true', '/dev/null']).status === 0;
(hasScript ? test : test.skip)('pack and gc draw their progress on a terminal (a pseudo-terminal through script(1))', async (t) => {
  await withDatabases((dir) => {
    for (const db of ['./fs', './s.db']) {
      const quote = (s: string): string => `'${s}'`;
      const tty = (args: string[]): string => {
        const r = spawnSync('script', ['-qec', [process.execPath, bin, ...args].map(quote).join(' '), '/dev/null'], { cwd: dir, encoding: 'utf8', timeout: 120_000, env: CLEAN_ENV });
        t.is(r.status, 0, r.stdout + r.stderr);
        return r.stdout;
      };
      // The display redraws at most 5 times a second and once when it stops: a small database shows the last phase.
      const gc = tty(['gc', db, '--keep', '0']);
      t.regex(gc, /gc: (replay \d+ transactions read|mark \d+ objects loaded|sweep \d+ objects checked), \d+s/, `${db}: gc phase`);
      t.regex(gc, /pack: (packing records|reclaiming blobs) \d+ blob references released, \d+s/, `${db}: the pack after gc`);
      t.regex(gc, /gc: deleted \d+ unreachable objects/, 'the report follows');
      t.regex(tty(['pack', db]), /pack: (packing records|reclaiming blobs) 0 blob references released, \d+s/, `${db}: pack`);
      t.notRegex(tty(['--json', 'pack', db]), /pack: packing/, '--json keeps the terminal quiet');
    }
  });
});

test('errors the CLI prints name oids in hex, as it prints and parses them', async (t) => {
  await withDatabases((dir) => {
    for (const db of ['./fs', './s.db']) {
      const r = run(dir, ['history', db, '1f']);
      t.is(r.status, 1, r.stderr);
      t.regex(r.stderr, /HANDLERTON_POS_KEY: .*000000000000001f/, db);
      t.notRegex(r.stderr, /\b31\b/, `${db}: not the decimal oid`);
    }
    const demo = run(dir, ['demo', 'memory:']);
    t.regex(demo.stdout, /root, note 0000000000000001, blob 0000000000000002/);
    t.regex(demo.stdout, /refs=\[0000000000000001, 0000000000000002\]/);
  });
});

test('a PostgreSQL server that accepts and never answers ends in a one-line HANDLERTON_IO error (exit 1), not a hang', async (t) => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as { port: number };
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-ops-silent-'));
  try {
    const url = `postgresql://nobody@127.0.0.1:${port}/none`;
    // spawnSync would block this process's event loop, and with it the silent server: spawn and wait instead.
    for (const [config, limit] of [[JSON.stringify({ engine: 'postgres', path: url, options: { connectTimeoutMs: 500 } }), 10_000], [`postgres:${url}`, 40_000]] as const) {
      const start = Date.now();
      const child = spawn(process.execPath, [bin, 'info', config], { cwd: dir, env: CLEAN_ENV });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      clearTimeout(timer);
      t.is(status, 1, stderr);
      t.regex(stderr, /^handlerton: HANDLERTON_IO: opening the postgres (storage|blob handlerton) .*timeout/);
      t.true(Date.now() - start < limit, `${config}: ${Date.now() - start} ms`);
    }
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
});

test('a reader that goes away early (| head) does not crash the command: it finishes with its output discarded (unhandled EPIPE, exit 1 before)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-epipe-'));
  try {
    const child = spawn(process.execPath, [bin, 'demo', 'filestorage2:./fs'], { cwd: dir, env: CLEAN_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    // Read the first chunk, then close our end of the pipe, as `head -1` does.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    t.is(status, 0, stderr);
    t.false(stderr.includes('EPIPE'), stderr);
    // The demo finished its work: the database it wrote opens and verifies.
    t.is(run(dir, ['verify', 'filestorage2:./fs']).status, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
