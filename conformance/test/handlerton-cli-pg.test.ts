/**
 * `handlerton` against PostgreSQL, end to end as spawned processes (issue 15): the inspecting and
 * blob commands, verify, pack and gc, copy FileStorage2 -> PostgreSQL -> SQLite, backup and restore
 * from PostgreSQL, the config file naming a PostgreSQL database, and bad or unreachable servers
 * (typed one-line errors, documented exit codes, no hang). Each test works in a fresh schema of the
 * throwaway server (or of HANDLERTON_PG_URL's).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServerOrSkip, type TestServer } from '@handlerton/postgres/testing';
import { bin, json, type Run } from './cli-run.js';

const { HANDLERTON_DB: _db, HANDLERTON_CONFIG: _config, ...CLEAN_ENV } = process.env;

function run(cwd: string, args: readonly string[], env: Record<string, string> = {}): Run & { ms: number } {
  const start = Date.now();
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 120_000, env: { ...CLEAN_ENV, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - start };
}

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

interface LogJson {
  transactions: { tid: string; user: string; description: string; oids: string[]; deleted: string[] }[];
}

const started = await startTestServerOrSkip();
if ('server' in started) {
  const server: TestServer = started.server;
  test.after.always('stop the PostgreSQL test server', async () => {
    await server.stop();
  });

  /** A temporary directory with a FileStorage2 database (the demo, then a 1 MiB blob) and a fresh schema's config. */
  async function withPg(body: (dir: string, pg: string, payload: Buffer) => Promise<void> | void): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'handlerton-cli-pg-'));
    const schema = server.newSchemaName('cli');
    try {
      const payload = randomBytes(1024 * 1024 + 5);
      await writeFile(join(dir, 'payload.bin'), payload);
      const demo = run(dir, ['demo', 'filestorage2:./fs']);
      if (demo.status !== 0) throw new Error(`demo failed: ${demo.stderr}`);
      json(run(dir, ['--json', 'blob', 'put', './fs', 'payload.bin']));
      await body(dir, JSON.stringify({ engine: 'postgres', path: server.url, options: { schema, poolSize: 2 } }), payload);
    } finally {
      await server.dropSchema(schema);
      await rm(dir, { recursive: true, force: true });
    }
  }

  test('copy FileStorage2 -> PostgreSQL, then info, stats, log, history, blob ls/get/put, verify, pack and gc on PostgreSQL', async (t) => {
    await withPg(async (dir, pg, payload) => {
      const copied = json<{ transactions: number; blobBytes: number }>(run(dir, ['--json', 'copy', './fs', pg]));
      t.is(copied.transactions, 3);
      const info = json<{ engines: { storage: string; blobs: string }; lastTransaction: string }>(run(dir, ['--json', 'info', pg]));
      t.deepEqual(info.engines, { storage: 'postgres', blobs: 'postgres' });
      t.is(info.lastTransaction, json<{ lastTransaction: string }>(run(dir, ['--json', 'info', './fs'])).lastTransaction, 'same last tid as the source');
      const stats = json<{ transactions: number; objects: number; currentBlobBytes: number; onDisk: number | null }>(run(dir, ['--json', 'stats', pg]));
      t.is(stats.transactions, 3);
      t.is(stats.currentBlobBytes, payload.length + 455, 'the demo blob (455 bytes) and the payload');
      t.is(stats.onDisk, null, 'no size on disk for a server database');
      const log = json<LogJson>(run(dir, ['--json', 'log', pg]));
      t.deepEqual(log, json<LogJson>(run(dir, ['--json', 'log', './fs'])), 'the same transactions as the source');
      const history = run(dir, ['history', pg, '1']);
      t.is(history.status, 0, history.stderr);
      t.regex(history.stdout, /^object 0000000000000001: 1 revision\(s\), newest first/, 'the demo packed the older one');
      t.deepEqual(json(run(dir, ['--json', 'history', pg, '1'])), json(run(dir, ['--json', 'history', './fs', '1'])));
      const ls = json<{ blobs: { oid: string; size: number }[] }>(run(dir, ['--json', 'blob', 'ls', pg]));
      const big = ls.blobs.find((b) => b.size === payload.length);
      t.truthy(big, JSON.stringify(ls));
      const got = spawnSync(process.execPath, [bin, 'blob', 'get', pg, big!.oid, '-'], { cwd: dir, env: CLEAN_ENV, maxBuffer: 8 * 1024 * 1024 });
      t.is(got.status, 0, String(got.stderr));
      t.is(sha(got.stdout), sha(payload), 'blob get streams the same bytes');
      const put = json<{ oid: string; size: number }>(run(dir, ['--json', 'blob', 'put', pg, 'payload.bin', '--oid', big!.oid]));
      t.is(put.size, payload.length);
      const verify = run(dir, ['verify', pg]);
      t.is(verify.status, 0, verify.stdout + verify.stderr);
      t.regex(verify.stdout, /no problems found/);
      const dry = json<{ dryRun: boolean; garbage: number }>(run(dir, ['--json', 'gc', pg, '--dry-run', '--keep', '0']));
      t.true(dry.dryRun);
      const packed = json<{ reclaimedBlobRevisions: number; reclaimedBlobBytes: number }>(run(dir, ['--json', 'pack', pg]));
      t.is(packed.reclaimedBlobRevisions, 1, 'the payload revision the put replaced');
      t.is(packed.reclaimedBlobBytes, payload.length);
      const gc = run(dir, ['gc', pg, '--keep', '0']);
      t.is(gc.status, 0, gc.stderr);
      t.is(gc.stderr, '', 'no progress on a captured stderr');
    });
  });

  test('copy PostgreSQL -> SQLite, and backup/restore from PostgreSQL, give the source back', async (t) => {
    await withPg(async (dir, pg) => {
      json(run(dir, ['--json', 'copy', './fs', pg]));
      const source = json<LogJson>(run(dir, ['--json', 'log', pg]));
      json(run(dir, ['--json', 'copy', pg, 'sqlite:./copy.db']));
      t.deepEqual(json<LogJson>(run(dir, ['--json', 'log', './copy.db'])), source, 'PostgreSQL -> SQLite');
      const full = json<{ full: boolean; transactions: number }>(run(dir, ['--json', 'backup', pg, './backups']));
      t.true(full.full);
      t.is(full.transactions, 3);
      json(run(dir, ['--json', 'blob', 'put', pg, 'payload.bin']));
      const incremental = json<{ full: boolean; transactions: number }>(run(dir, ['--json', 'backup', pg, './backups']));
      t.false(incremental.full);
      t.is(incremental.transactions, 1);
      const restored = json<{ transactions: number; problems: unknown[] }>(run(dir, ['--json', 'restore', './backups', 'filestorage2:./restored']));
      t.is(restored.transactions, 4);
      t.deepEqual(restored.problems, []);
      t.deepEqual(json<LogJson>(run(dir, ['--json', 'log', './restored'])), json<LogJson>(run(dir, ['--json', 'log', pg])), 'the restore equals the PostgreSQL database');
      const [a, b] = [run(dir, ['blob', 'get', pg, '4', 'a.bin']), run(dir, ['blob', 'get', './restored', '4', 'b.bin'])];
      t.is(a.status, 0, a.stderr);
      t.is(b.status, 0, b.stderr);
      t.is(sha(await readFile(join(dir, 'a.bin'))), sha(await readFile(join(dir, 'b.bin'))));
    });
  });

  test('a config file or HANDLERTON_DB can name a PostgreSQL database', async (t) => {
    await withPg(async (dir, pg) => {
      json(run(dir, ['--json', 'copy', './fs', pg]));
      await writeFile(join(dir, 'handlerton.json'), pg);
      const viaFile = json<{ engines: { storage: string }; transactions: number }>(run(dir, ['--json', 'stats']));
      t.is(viaFile.engines.storage, 'postgres');
      t.is(viaFile.transactions, 3);
      t.is(json<{ engines: { storage: string } }>(run(dir, ['--json', 'info'], { HANDLERTON_DB: pg })).engines.storage, 'postgres');
    });
  });

  test('a bad connection string, a refused connection and an unknown host are one-line typed errors, quickly', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'handlerton-cli-pg-bad-'));
    try {
      const bad = run(dir, ['info', 'postgres:not-a-url']);
      t.is(bad.status, 2, 'bad usage: the config is wrong');
      t.regex(bad.stderr, /^handlerton: HANDLERTON_INVALID_CONFIG: storage\.location: the postgres engine needs a connection string/);
      const option = run(dir, ['info', JSON.stringify({ engine: 'postgres', path: server.url, options: { schema: 'Bad-Name' } })]);
      t.is(option.status, 2);
      t.regex(option.stderr, /HANDLERTON_INVALID_CONFIG: storage\.options\.schema: must be a lower-case identifier/);
      for (const url of ['postgresql://127.0.0.1:1/none', 'postgresql://no-such-host.invalid/none']) {
        for (const args of [['info', `postgres:${url}`], ['copy', './nothing-here', `postgres:${url}`], ['backup', `postgres:${url}`, './b']]) {
          const r = run(dir, args);
          if (args[0] === 'copy') {
            t.is(r.status, 2, 'the missing source is found first');
            continue;
          }
          t.is(r.status, 1, `${args.join(' ')}: the operation failed (server unreachable): ${r.stderr}`);
          t.regex(r.stderr, /^handlerton: HANDLERTON_IO: opening the postgres storage in schema "handlerton": (connect ECONNREFUSED|getaddrinfo)/);
          t.is(r.stderr.trim().split('\n').length, 1);
          t.true(r.ms < 30_000, `${args.join(' ')} took ${r.ms} ms`);
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
} else {
  test.skip(started.skip, (t) => t.pass());
}
