/** The `handlerton` operator command, run end to end as a spawned process against FileStorage2 and SQLite. */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../framework/bin/handlerton.js', import.meta.url));
const frameworkEntry = new URL('../../../framework/dist/src/index.js', import.meta.url).href;

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function handlerton(cwd: string, ...args: string[]): Run {
  const run = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

let template = '';

// The databases every test starts from, made once (each spawn costs about a second on a loaded machine).
test.before(async () => {
  template = await mkdtemp(join(tmpdir(), 'handlerton-cli-template-'));
  for (const config of ['filestorage2:./fs', 'sqlite:./s.db']) {
    const demo = handlerton(template, 'demo', config);
    if (demo.status !== 0) throw new Error(`demo ${config} failed: ${demo.stderr}`);
  }
});

test.after.always(async () => {
  if (template !== '') await rm(template, { recursive: true, force: true });
});

/** A temporary copy of the template: a FileStorage2 database `fs` and a SQLite database `s.db`, each with records and a blob. */
async function withDatabases(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-cli-'));
  try {
    await cp(template, dir, { recursive: true });
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const HEX_TID = /^[0-9a-f]{16}$/;

test('--version prints the version and engines --json lists the built-in engines', (t) => {
  const version = handlerton(tmpdir(), '--version');
  t.is(version.status, 0, version.stderr);
  t.regex(version.stdout.trim(), /^\d+\.\d+\.\d+/);
  const engines = handlerton(tmpdir(), 'engines', '--json');
  t.is(engines.status, 0, engines.stderr);
  const list = JSON.parse(engines.stdout) as { name?: string }[];
  t.deepEqual(list.map((e) => e.name).sort(), ['filestorage2', 'memory', 'postgres', 'sqlite-blobs']);
  const readable = handlerton(tmpdir(), 'engines');
  t.regex(readable.stdout, /^filestorage2\s+.+\n\s+storage: /m);
});

test('info on a missing database fails with HANDLERTON_NOT_FOUND and exit 2, creating nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-cli-'));
  try {
    for (const config of ['filestorage2:./typo', 'sqlite:./typo.db', './typo', '{"engine":"filestorage2","path":"./typo"}']) {
      const run = handlerton(dir, 'info', config);
      t.is(run.status, 2, `${config}: ${run.stdout}${run.stderr}`);
      t.regex(run.stderr, /^handlerton: HANDLERTON_NOT_FOUND: .*typo/, config);
      t.is(run.stderr.trim().split('\n').length, 1, 'one line without --verbose');
      t.false(existsSync(join(dir, 'typo')) || existsSync(join(dir, 'typo.db')), `${config} created a database`);
    }
    const copy = handlerton(dir, 'copy', 'filestorage2:./typo', 'sqlite:./out.db');
    t.is(copy.status, 2);
    t.false(existsSync(join(dir, 'out.db')), 'copy opened its destination before finding the source missing');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('info detects a bare path as a FileStorage2 directory or a SQLite file, readable and --json', async (t) => {
  await withDatabases((dir) => {
    for (const [path, engine] of [['./fs', 'filestorage2'], ['./s.db', 'sqlite-blobs']] as const) {
      const readable = handlerton(dir, 'info', path);
      t.is(readable.status, 0, readable.stderr);
      t.regex(readable.stdout, new RegExp(`^storage engine:\\s+${engine}$`, 'm'));
      t.regex(readable.stdout, /^last transaction: [0-9a-f]{16} at \d{4}-/m);
      const json = handlerton(dir, '--json', 'info', path);
      t.is(json.status, 0, json.stderr);
      const info = JSON.parse(json.stdout) as { engines: { storage: string }; lastTransaction: string; lastCommit: string };
      t.is(info.engines.storage, engine);
      t.regex(info.lastTransaction, HEX_TID);
      t.false(Number.isNaN(Date.parse(info.lastCommit)));
    }
  });
});

test('a bare path that is no database is refused with a hint (exit 2)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-cli-'));
  try {
    await mkdir(join(dir, 'empty'));
    await writeFile(join(dir, 'notes.txt'), 'not a database');
    for (const path of ['./empty', './notes.txt']) {
      const run = handlerton(dir, 'info', path);
      t.is(run.status, 2, run.stderr);
      t.regex(run.stderr, /HANDLERTON_INVALID_CONFIG: .*write the engine explicitly, e\.g\. "filestorage2:/);
    }
    const engine = handlerton(dir, 'info', 'nosuchengine:./x');
    t.is(engine.status, 2);
    t.regex(engine.stderr, /HANDLERTON_UNKNOWN_ENGINE/);
    const verbose = handlerton(dir, 'info', './empty', '--verbose');
    t.regex(verbose.stderr, /\n\s+at /, 'the stack follows with --verbose');
    const usage = handlerton(dir, 'info');
    t.is(usage.status, 2, 'a missing argument is a usage error');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('copy prints the blob id map, pack and gc print readable lines and --json', async (t) => {
  await withDatabases((dir) => {
    for (const source of ['./fs', './s.db']) {
      const target = `sqlite:./copy-${source.slice(2)}.db`;
      const copy = handlerton(dir, '--json', 'copy', source, target);
      t.is(copy.status, 0, copy.stderr);
      const result = JSON.parse(copy.stdout) as { transactions: number; blobRevisions: number; blobIds: Record<string, string> };
      t.true(result.transactions > 0);
      t.is(result.blobRevisions, 1);
      const pairs = Object.entries(result.blobIds);
      t.is(pairs.length, 1, 'the blob id map printed as an object, not {}');
      t.true(pairs.every(([from, to]) => HEX_TID.test(from) && HEX_TID.test(to)));
      const readable = handlerton(dir, 'copy', source, `filestorage2:./copy-${source.slice(2)}-fs`);
      t.regex(readable.stdout, /^copied \d+ transactions, \d+ records, 1 blob revisions \(\d+ bytes\)$/m);
    }
    const pack = handlerton(dir, 'pack', './fs');
    t.is(pack.status, 0, pack.stderr);
    t.regex(pack.stdout, /^packed: \d+ record revisions and \d+ objects removed \(\d+ bytes\), \d+ blob revisions reclaimed \(\d+ bytes\)$/m);
    const packJson = handlerton(dir, 'pack', './s.db', '--json');
    t.is(typeof (JSON.parse(packJson.stdout) as { reclaimedBytes: unknown }).reclaimedBytes, 'number');
    const gc = handlerton(dir, 'gc', './s.db', '--keep', '0', '--dry-run', '--json');
    t.is(gc.status, 0, gc.stderr);
    const report = JSON.parse(gc.stdout) as { dryRun: boolean; oids: string[] };
    t.true(report.dryRun);
    t.true(report.oids.every((oid) => HEX_TID.test(oid)));
    const badDate = handlerton(dir, 'pack', './fs', '--before', 'yesterdayish');
    t.is(badDate.status, 2);
    t.regex(badDate.stderr, /HANDLERTON_INVALID_ARGUMENT: --before/);
  });
});

test('info inspects a FileStorage2 database that another process holds open', async (t) => {
  await withDatabases(async (dir) => {
    const script = `const { openDatabase } = await import(${JSON.stringify(frameworkEntry)}); const db = await openDatabase('filestorage2:./fs'); process.stdout.write('open\\n'); process.stdin.on('end', () => db.close()); process.stdin.resume();`;
    const holder = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (data: Buffer) => (data.toString().includes('open') ? resolve() : undefined));
        holder.on('exit', (code) => reject(new Error(`holder exited with ${code}`)));
      });
      const pack = handlerton(dir, 'pack', './fs');
      t.is(pack.status, 1, 'a writing command still respects the lock');
      t.regex(pack.stderr, /HANDLERTON_STORAGE_LOCKED/);
      const info = handlerton(dir, '--json', 'info', './fs');
      t.is(info.status, 0, info.stderr);
      t.regex((JSON.parse(info.stdout) as { lastTransaction: string }).lastTransaction, HEX_TID);
      const fromJson = handlerton(dir, 'info', '{"engine":"filestorage2","path":"./fs"}');
      t.is(fromJson.status, 0, `a JSON config is inspected read-only too: ${fromJson.stderr}`);
      const copy = handlerton(dir, 'copy', './fs', 'sqlite:./live-copy.db');
      t.is(copy.status, 0, copy.stderr);
    } finally {
      holder.stdin.end();
      await new Promise((resolve) => holder.once('close', resolve));
    }
  });
});

test('info, verify, stats and log inspect a SQLite database that another process holds open, seeing its commit in the WAL and changing no file', async (t) => {
  await withDatabases(async (dir) => {
    // The holder commits a record and a blob, then stays open: the commit sits in the WAL files (no checkpoint yet).
    const script = `const { openDatabase } = await import(${JSON.stringify(frameworkEntry)}); const db = await openDatabase('sqlite:./s.db'); const enc = new TextEncoder();
      await db.transaction(async (tx) => { await tx.create(enc.encode('written by the holder')); const blob = await tx.createBlob(); const w = await blob.open('w'); await w.write(enc.encode('holder blob')); await w.close(); }, { meta: { user: 'holder', description: 'live commit' } });
      process.stdout.write('open ' + db.lastTransaction().toString(16).padStart(16, '0') + '\\n'); process.stdin.on('end', () => db.close()); process.stdin.resume();`;
    const holder = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const tid = await new Promise<string>((resolve, reject) => {
        holder.stdout.on('data', (data: Buffer) => {
          const found = /open ([0-9a-f]{16})/.exec(data.toString());
          if (found !== null) resolve(found[1]!);
        });
        holder.on('exit', (code) => reject(new Error(`holder exited with ${code}`)));
      });
      t.true((await readFile(join(dir, 's.db-wal'))).includes('written by the holder'), 'the commit is in the WAL');
      const files = async (): Promise<Map<string, string>> => {
        const out = new Map<string, string>();
        // -shm is SQLite's shared-memory index, which every WAL reader uses: not database content.
        for (const name of readdirSync(dir).filter((n) => n.startsWith('s.db') && !n.endsWith('-shm')).sort()) {
          out.set(name, createHash('sha256').update(await readFile(join(dir, name))).digest('hex'));
        }
        return out;
      };
      const before = await files();
      const pack = handlerton(dir, 'pack', './s.db');
      t.is(pack.status, 1, 'a writing command still respects the lock');
      t.regex(pack.stderr, /HANDLERTON_STORAGE_LOCKED/);
      const info = handlerton(dir, '--json', 'info', './s.db');
      t.is(info.status, 0, info.stderr);
      const report = JSON.parse(info.stdout) as { lastTransaction: string; capabilities: { storage: { readOnly: boolean } } };
      t.is(report.lastTransaction, tid, "the holder's commit, read from the WAL");
      t.true(report.capabilities.storage.readOnly);
      const fromJson = handlerton(dir, 'info', '{"engine":"sqlite","path":"./s.db"}');
      t.is(fromJson.status, 0, `a JSON config is inspected read-only too: ${fromJson.stderr}`);
      const verify = handlerton(dir, 'verify', './s.db');
      t.is(verify.status, 0, verify.stdout + verify.stderr);
      t.regex(verify.stdout, /2 blob revisions .*\nno problems found$/m);
      const stats = handlerton(dir, 'stats', './s.db');
      t.is(stats.status, 0, stats.stderr);
      t.true(stats.stdout.includes(`last transaction: ${tid}`), stats.stdout);
      const log = handlerton(dir, 'log', './s.db', '--last', '1');
      t.is(log.status, 0, log.stderr);
      t.regex(log.stdout, new RegExp(`^${tid} .* holder "live commit"`));
      const copy = handlerton(dir, 'copy', './s.db', 'filestorage2:./live-copy');
      t.is(copy.status, 0, copy.stderr);
      t.deepEqual(await files(), before, 'no database file, WAL, lock or key file changed or created');
    } finally {
      holder.stdin.end();
      await new Promise((resolve) => holder.once('close', resolve));
    }
  });
});

test('verify reports a clean database as clean and names the damaged file (exit 1)', async (t) => {
  await withDatabases(async (dir) => {
    for (const path of ['./fs', './s.db']) {
      const clean = handlerton(dir, 'verify', path);
      t.is(clean.status, 0, clean.stdout + clean.stderr);
      t.regex(clean.stdout, /^checked \d+ transactions, \d+ records, 1 blob revisions \(\d+ bytes\)\nno problems found$/m);
      const json = JSON.parse(handlerton(dir, 'verify', path, '--json').stdout) as { transactions: number; problems: unknown[] };
      t.true(json.transactions > 0);
      t.deepEqual(json.problems, []);
    }
    // FileStorage2: flip a byte of a record's data in a segment file
    const name = readdirSync(join(dir, 'fs')).find((file) => file.startsWith('seg-0000000000000001-'))!;
    const segment = join(dir, 'fs', name);
    const bytes = await readFile(segment);
    const at = bytes.indexOf('hello again');
    t.true(at > 0, 'the demo note is in the first segment');
    bytes[at] = bytes[at]! ^ 0xff;
    await writeFile(segment, bytes);
    const fs2 = handlerton(dir, 'verify', './fs');
    t.is(fs2.status, 1, fs2.stdout + fs2.stderr);
    t.true((fs2.stdout + fs2.stderr).includes(name), 'the damaged segment is named');
    // SQLite: flip a byte of a stored record row
    const db = new Database(join(dir, 's.db'));
    try {
      const row = db.prepare('SELECT tid, oid, data FROM revision WHERE data IS NOT NULL LIMIT 1').safeIntegers(true).get() as { tid: bigint; oid: bigint; data: Buffer };
      const data = Buffer.from(row.data);
      data[0] = data[0]! ^ 0xff;
      db.prepare('UPDATE revision SET data = ? WHERE tid = ? AND oid = ?').run(data, row.tid, row.oid);
    } finally {
      db.close();
    }
    const sqlite = handlerton(dir, 'verify', './s.db', '--json');
    t.is(sqlite.status, 1, sqlite.stdout + sqlite.stderr);
    const report = JSON.parse(sqlite.stdout) as { problems: { message: string; check: string; file?: string }[]; engineChecks: { role: string; engine: string }[] };
    // the engine's own row check and the generic read both find the row
    t.deepEqual(report.problems.map((p) => p.check), ['storage', 'generic']);
    t.regex(report.problems[0]!.file!, /s\.db$/);
    t.regex(report.problems[0]!.message, /fails its checksum/);
    t.regex(report.problems[1]!.message, /checksum.*s\.db/);
    t.deepEqual(report.engineChecks.map((c) => `${c.role} ${c.engine}`), ['storage sqlite-blobs', 'blobs sqlite-blobs']);
  });
});

test('verify runs the engines\' own checks: bytes after the last transaction of the active segment are a problem that reads never see (exit 1)', async (t) => {
  await withDatabases(async (dir) => {
    const clean = handlerton(dir, 'verify', './fs');
    t.is(clean.status, 0, clean.stdout + clean.stderr);
    t.regex(clean.stdout, /^storage filestorage2 check: \d+ segments, \d+ transactions, \d+ records.*; no problems$/m);
    t.regex(clean.stdout, /^blobs filestorage2 check: 1 format markers, .*\d+ chunk files.*; no problems$/m);
    // a torn write after the last transaction of the (trimmed) active segment: open would cut it off
    const name = readdirSync(join(dir, 'fs')).filter((file) => file.startsWith('seg-')).sort().at(-1)!;
    const segment = join(dir, 'fs', name);
    const size = (await readFile(segment)).length;
    await writeFile(segment, Buffer.from('TXN2 torn'), { flag: 'a' });
    const torn = handlerton(dir, 'verify', './fs', '--json');
    t.is(torn.status, 1, torn.stdout + torn.stderr);
    const report = JSON.parse(torn.stdout) as { transactions: number; problems: { check: string; file: string; offset: number; message: string }[] };
    t.true(report.transactions > 0, 'the generic check still reads every transaction');
    t.is(report.problems.length, 1);
    t.like(report.problems[0], { check: 'storage', offset: size });
    t.true(report.problems[0]!.file.endsWith(name));
    t.regex(report.problems[0]!.message, /after its last whole transaction/);
  });
});

test('verify inspects a mixed pair whose SQLite blob role keeps only its <path>-blobs file (it was refused as not found)', async (t) => {
  await withDatabases(async (dir) => {
    const config = JSON.stringify({ storage: 'filestorage2:./mixed', blobs: 'sqlite:./mixed.db' });
    const demo = handlerton(dir, 'demo', config);
    t.is(demo.status, 0, demo.stderr);
    t.true(existsSync(join(dir, 'mixed.db-blobs')), 'the blob role wrote <path>-blobs');
    t.false(existsSync(join(dir, 'mixed.db')), 'and no records file');
    const verify = handlerton(dir, 'verify', config);
    t.is(verify.status, 0, verify.stdout + verify.stderr);
    t.regex(verify.stdout, /^storage filestorage2 check: .*; no problems$/m);
    t.regex(verify.stdout, /^blobs sqlite-blobs check: .*chunks.*; no problems$/m);
  });
});
