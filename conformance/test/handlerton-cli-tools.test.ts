/**
 * The inspection and blob commands of `handlerton` (stats, history, log, blob put/get/ls), run end to
 * end as spawned processes against FileStorage2 and SQLite: output, --json, exit codes and bad input.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, handlerton, json } from './cli-run.js';

const DATABASES = ['./fs', './s.db'] as const;

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

let template = '';
const payload = randomBytes(3 * 1024 * 1024 + 17);

// The databases every test starts from: the demo's records and blob, then a 3 MiB blob put through the CLI.
test.before(async () => {
  template = await mkdtemp(join(tmpdir(), 'handlerton-tools-template-'));
  await writeFile(join(template, 'payload.bin'), payload);
  for (const config of ['filestorage2:./fs', 'sqlite:./s.db']) {
    const demo = handlerton(template, ['demo', config]);
    if (demo.status !== 0) throw new Error(`demo ${config} failed: ${demo.stderr}`);
  }
  for (const db of DATABASES) json(handlerton(template, ['--json', 'blob', 'put', db, 'payload.bin']));
});

test.after.always(async () => {
  if (template !== '') await rm(template, { recursive: true, force: true });
});

async function withDatabases(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-tools-'));
  try {
    await cp(template, dir, { recursive: true });
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Stats {
  transactions: number;
  objects: number;
  revisions: number;
  blobObjects: number;
  currentBlobBytes: number;
  onDisk: number | null;
  storageDetail: Record<string, unknown>;
}

test('stats counts transactions, objects and blob bytes and shows engine detail', async (t) => {
  await withDatabases((dir) => {
    for (const db of DATABASES) {
      const stats = json<Stats>(handlerton(dir, ['--json', 'stats', db]));
      t.is(stats.transactions, 3, `${db}: demo (2) + blob put (1)`);
      t.is(stats.blobObjects, 2, db);
      t.is(stats.currentBlobBytes, payload.length + 455, `${db}: the put blob and the demo's 455-byte blob`);
      t.true(stats.objects >= 4, db);
      t.true((stats.onDisk ?? 0) > payload.length, `${db}: size on disk includes the blob (${stats.onDisk})`);
      t.true(Object.keys(stats.storageDetail).length > 0, `${db}: engine detail`);
      const readable = handlerton(dir, ['stats', db]);
      t.regex(readable.stdout, /^size on disk: +[\d,]+ bytes$/m);
      t.regex(readable.stdout, /^storage detail:$/m);
    }
    t.is(handlerton(dir, ['stats', './typo']).status, 2, 'a missing database is exit 2');
  });
});

test('history and log list revisions and transactions with their metadata; bad ids are exit 2', async (t) => {
  await withDatabases((dir) => {
    for (const db of DATABASES) {
      const log = json<{ transactions: { tid: string; user: string; description: string; oids: string[] }[] }>(handlerton(dir, ['--json', 'log', db]));
      t.is(log.transactions.length, 3, db);
      t.deepEqual(log.transactions[0]!.oids, ['0000000000000000'], `${db}: the demo's first transaction writes the root`);
      t.is(log.transactions[0]!.description, 'first transaction');
      const blobOid = log.transactions[2]!.oids[0]!;
      // A second revision of the put blob, then its history.
      json(handlerton(dir, ['--json', 'blob', 'put', db, '-', '--oid', blobOid], Buffer.from('second revision')));
      const history = json<{ revisions: { tid: string; size: number; deleted: boolean }[] }>(handlerton(dir, ['--json', 'history', db, blobOid]));
      t.is(history.revisions.length, 2, db);
      t.true(history.revisions[0]!.tid > history.revisions[1]!.tid, 'newest first');
      const last = json<{ transactions: { tid: string }[] }>(handlerton(dir, ['--json', 'log', db, '--last', '1']));
      t.is(last.transactions.length, 1);
      t.is(last.transactions[0]!.tid, history.revisions[0]!.tid);
      const since = json<{ transactions: unknown[] }>(handlerton(dir, ['--json', 'log', db, '--since', last.transactions[0]!.tid]));
      t.is(since.transactions.length, 1, '--since takes a hex tid as printed');
      const future = handlerton(dir, ['log', db, '--since', '2100-01-01T00:00:00Z']);
      t.is(future.status, 0);
      t.regex(future.stdout, /no transactions in the range/);
      const readable = handlerton(dir, ['log', db]);
      t.regex(readable.stdout, /^[0-9a-f]{16} \d{4}-\d\d-\d\dT[\d:.]+Z demo "first transaction" \[1\] 0000000000000000$/m);
      for (const bad of [['history', db, 'zz'], ['log', db, '--since', 'yesterday-ish'], ['history', db, '1', '--size', '0']]) {
        const run = handlerton(dir, bad);
        t.is(run.status, 2, `${bad.join(' ')}: ${run.stderr}`);
        t.regex(run.stderr, /^handlerton: HANDLERTON_INVALID_ARGUMENT: /);
      }
      t.is(handlerton(dir, ['history', db, 'ffff']).status, 1, 'an oid the database does not know is a failure (POSKeyError), not bad usage');
    }
  });
});

test('blob put/get round-trips bytes through files, stdin/stdout, locators and ranges; ls lists blobs', async (t) => {
  await withDatabases(async (dir) => {
    for (const db of DATABASES) {
      const put = json<{ oid: string; size: number; locator: string }>(handlerton(dir, ['--json', 'blob', 'put', db, '-'], payload));
      t.is(put.size, payload.length);
      t.is(handlerton(dir, ['blob', 'get', db, put.oid, 'by-oid.bin']).status, 0);
      t.is(sha(await readFile(join(dir, 'by-oid.bin'))), sha(payload), `${db}: get by oid`);
      t.is(handlerton(dir, ['blob', 'get', db, put.locator, 'by-locator.bin']).status, 0);
      t.is(sha(await readFile(join(dir, 'by-locator.bin'))), sha(payload), `${db}: get by locator`);
      const range = spawnSync(process.execPath, [bin, 'blob', 'get', db, put.oid, '-', '--range', '1000-1999'], { cwd: dir });
      t.is(range.status, 0);
      t.deepEqual(range.stdout, payload.subarray(1000, 2000), 'stdout, inclusive range');
      const tail = spawnSync(process.execPath, [bin, 'blob', 'get', db, put.oid, '-', '--range', '-10'], { cwd: dir });
      t.deepEqual(tail.stdout, payload.subarray(payload.length - 10), 'suffix range');
      const ls = json<{ blobs: { oid: string; size: number }[] }>(handlerton(dir, ['--json', 'blob', 'ls', db]));
      t.true(ls.blobs.some((b) => b.oid === put.oid && b.size === payload.length), db);
      await rm(join(dir, 'by-oid.bin'));
      await rm(join(dir, 'by-locator.bin'));
    }
  });
});

test('blob get with a tampered locator, a missing oid or an unsatisfiable range fails and leaves no output file', async (t) => {
  await withDatabases(async (dir) => {
    for (const db of DATABASES) {
      const put = json<{ oid: string; locator: string }>(handlerton(dir, ['--json', 'blob', 'put', db, 'payload.bin']));
      const tampered = put.locator.slice(0, -3) + (put.locator.endsWith('AAA') ? 'BBB' : 'AAA');
      const cases: [string[], number, RegExp][] = [
        [['blob', 'get', db, tampered, 'out.bin'], 2, /HANDLERTON_INVALID_LOCATOR/],
        [['blob', 'get', db, 'ffff', 'out.bin'], 1, /HANDLERTON_POS_KEY/],
        [['blob', 'get', db, put.oid, 'out.bin', '--range', `${payload.length}-`], 2, /--range/],
        [['blob', 'get', db, '0', 'out.bin'], 2, /not a blob/],
      ];
      for (const [args, status, message] of cases) {
        const run = handlerton(dir, args);
        t.is(run.status, status, `${args.join(' ')}: ${run.stderr}`);
        t.regex(run.stderr, message);
        t.false(existsSync(join(dir, 'out.bin')), `${args.join(' ')} left an output file`);
        t.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'no temporary file left');
      }
      const missing = handlerton(dir, ['blob', 'put', db, 'no-such-file.bin']);
      t.is(missing.status, 2);
      t.regex(missing.stderr, /HANDLERTON_INVALID_ARGUMENT: file "no-such-file.bin" cannot be read/);
    }
  });
});

test('an interrupted blob put (killed while streaming stdin) commits nothing', async (t) => {
  await withDatabases(async (dir) => {
    for (const db of DATABASES) {
      const before = json<{ transactions: unknown[] }>(handlerton(dir, ['--json', 'log', db])).transactions.length;
      const child = spawn(process.execPath, [bin, 'blob', 'put', db, '-'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
      const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
      child.stdin.on('error', () => {}); // EPIPE once the child is killed
      // Feed 2 MiB and wait until the database is open and the stream is being consumed, then kill it.
      child.stdin.write(randomBytes(2 * 1024 * 1024));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      child.kill('SIGKILL');
      await exited;
      const after = json<{ transactions: unknown[] }>(handlerton(dir, ['--json', 'log', db])).transactions.length;
      t.is(after, before, `${db}: no transaction was committed`);
      const verify = handlerton(dir, ['verify', db]);
      t.is(verify.status, 0, `${db} verifies after the kill: ${verify.stdout}${verify.stderr}`);
    }
  });
});

test('copy --incremental continues a previous copy: new blob revisions and new blobs arrive, and the result equals the source', async (t) => {
  await withDatabases(async (dir) => {
    for (const [from, to] of [['./fs', 'sqlite:./copy.db'], ['./s.db', 'filestorage2:./copy-fs']] as const) {
      const first = json<{ transactions: number; resumedAfter: string }>(handlerton(dir, ['--json', 'copy', from, to]));
      t.is(first.transactions, 3);
      t.is(first.resumedAfter, '0000000000000000');
      t.is(handlerton(dir, ['copy', from, to]).status, 2, 'a plain copy into a non-empty destination is refused');
      // More history in the source: a new revision of the copied blob, a new blob.
      const log = json<{ transactions: { oids: string[] }[] }>(handlerton(dir, ['--json', 'log', from]));
      const blobOid = log.transactions[2]!.oids[0]!;
      json(handlerton(dir, ['--json', 'blob', 'put', from, '-', '--oid', blobOid], Buffer.from('revised after the first copy')));
      json(handlerton(dir, ['--json', 'blob', 'put', from, '-'], Buffer.from('a new blob')));
      const nothingYet = json<{ transactions: number }>(handlerton(dir, ['--json', 'copy', '--incremental', from, to]));
      t.is(nothingYet.transactions, 2, 'the two new transactions');
      const again = json<{ transactions: number }>(handlerton(dir, ['--json', 'copy', '--incremental', from, to]));
      t.is(again.transactions, 0, 'nothing new');
      const source = json<{ transactions: { tid: string; oids: string[] }[] }>(handlerton(dir, ['--json', 'log', from]));
      const target = json<{ transactions: { tid: string; oids: string[] }[] }>(handlerton(dir, ['--json', 'log', to]));
      t.deepEqual(target.transactions, source.transactions, `${from} -> ${to}: the same transactions`);
      for (const oid of [blobOid, source.transactions[4]!.oids[0]!]) {
        const a = spawnSync(process.execPath, [bin, 'blob', 'get', from, oid, '-'], { cwd: dir }).stdout;
        const b = spawnSync(process.execPath, [bin, 'blob', 'get', to, oid, '-'], { cwd: dir }).stdout;
        t.true(a.length > 0);
        t.deepEqual(b, a, `blob ${oid} has the same bytes in the copy`);
      }
      t.is(handlerton(dir, ['verify', to]).status, 0);
    }
    // A destination that is not a copy of the source is refused.
    const unrelated = handlerton(dir, ['copy', '--incremental', './fs', 'sqlite:./copy.db']);
    t.is(unrelated.status, 0, 'fs -> copy.db is the same pair as before');
    const wrong = handlerton(dir, ['copy', '--incremental', './s.db', 'sqlite:./copy.db']);
    t.is(wrong.status, 2, wrong.stderr);
    t.regex(wrong.stderr, /is not a transaction of the source/);
  });
});

test('pack reports the blob bytes it reclaimed (not only record bytes)', async (t) => {
  await withDatabases((dir) => {
    for (const db of DATABASES) {
      const log = json<{ transactions: { oids: string[] }[] }>(handlerton(dir, ['--json', 'log', db]));
      const blobOid = log.transactions[2]!.oids[0]!;
      // The 3 MiB revision is replaced; pack drops the old record revision and reclaims its blob revision.
      json(handlerton(dir, ['--json', 'blob', 'put', db, '-', '--oid', blobOid], Buffer.from('small')));
      const packed = json<{ reclaimedBlobRevisions: number; reclaimedBlobBytes: number; removedRevisions: number }>(handlerton(dir, ['--json', 'pack', db]));
      t.true(packed.removedRevisions >= 1, db);
      t.is(packed.reclaimedBlobRevisions, 1, db);
      t.is(packed.reclaimedBlobBytes, payload.length, `${db}: the 3 MiB revision's bytes are reported`);
      const readable = handlerton(dir, ['pack', db]);
      t.regex(readable.stdout, /blob revisions reclaimed \(\d+ bytes\)/);
    }
  });
});

test('HANDLERTON_DB names the database when a command names none; progress stays off stderr when it is not a terminal', async (t) => {
  await withDatabases((dir) => {
    const env = { ...process.env, HANDLERTON_DB: './s.db' };
    const run = spawnSync(process.execPath, [bin, '--json', 'stats'], { cwd: dir, encoding: 'utf8', env });
    t.is(run.status, 0, run.stderr);
    t.is((JSON.parse(run.stdout) as { engines: { storage: string } }).engines.storage, 'sqlite-blobs');
    const explicit = spawnSync(process.execPath, [bin, '--json', 'info', './fs'], { cwd: dir, encoding: 'utf8', env });
    t.is((JSON.parse(explicit.stdout) as { engines: { storage: string } }).engines.storage, 'filestorage2', 'a named database wins');
    const { HANDLERTON_DB: _unset, ...without } = process.env;
    const none = spawnSync(process.execPath, [bin, 'info'], { cwd: dir, encoding: 'utf8', env: without });
    t.is(none.status, 2);
    t.regex(none.stderr, /^handlerton: HANDLERTON_INVALID_ARGUMENT: no database given: .* or set HANDLERTON_DB/);
    // Long work (verify, copy) prints progress only on a terminal: captured stderr stays empty.
    for (const args of [['verify', './fs'], ['copy', './fs', 'sqlite:./quiet-copy.db']]) {
      const quiet = handlerton(dir, args);
      t.is(quiet.status, 0, quiet.stderr);
      t.is(quiet.stderr, '', `${args[0]} wrote nothing to a non-terminal stderr`);
    }
  });
});
