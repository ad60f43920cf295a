/**
 * `handlerton backup` and `restore`, end to end as spawned processes: a backup taken while another
 * process commits restores to a database equal to the source at the backup's tid; incremental runs
 * copy only what is new; `--at` restores a past state; damaged or foreign backups are refused.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, frameworkEntry, handlerton, json } from './cli-run.js';


interface LogEntry {
  tid: string;
  user: string;
  description: string;
  oids: string[];
  deleted: string[];
}
const log = (dir: string, db: string): LogEntry[] => json<{ transactions: LogEntry[] }>(handlerton(dir, ['--json', 'log', db])).transactions;

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-backup-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a backup taken while another process commits restores to the source as of the backup tid, and verifies', async (t) => {
  await withDir(async (dir) => {
    t.is(handlerton(dir, ['demo', 'filestorage2:./live']).status, 0);
    // A writer commits a record and a blob revision every few milliseconds until told to stop.
    const script = `const { openDatabase } = await import(${JSON.stringify(frameworkEntry)});
      const db = await openDatabase('filestorage2:./live'); let n = 0; let stop = false;
      process.stdin.on('end', () => (stop = true)); process.stdin.resume();
      const blob = await db.transaction(async (tx) => (await tx.createBlob()).oid);
      process.stdout.write('writing\\n');
      while (!stop) {
        n += 1;
        await db.transaction(async (tx) => { await tx.write(0n, new TextEncoder().encode('root ' + n)); const h = await (await tx.blob(blob)).open('w'); await h.write('blob ' + n + ' '.repeat(n % 5000)); await h.close(); }, { meta: { description: 'commit ' + n } });
        await new Promise((r) => setTimeout(r, 5));
      }
      await db.close(); process.stdout.write('done ' + n + '\\n');`;
    const writer = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
    let said = '';
    writer.stdout.on('data', (d: Buffer) => (said += d.toString()));
    const closed = new Promise<void>((resolve) => writer.once('close', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        const check = setInterval(() => said.includes('writing') && (clearInterval(check), resolve()), 20);
        writer.once('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const first = json<{ to: string; transactions: number; full: boolean }>(handlerton(dir, ['--json', 'backup', './live', './bak']));
      t.true(first.full);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const second = json<{ to: string; transactions: number; full: boolean }>(handlerton(dir, ['--json', 'backup', './live', './bak']));
      t.false(second.full);
      t.true(second.transactions > 0, 'the writer committed between the two backups');
      writer.stdin.end();
      await closed;
      t.regex(said, /done \d+/);
      const restored = json<{ lastTransaction: string; problems: unknown[] }>(handlerton(dir, ['--json', 'restore', './bak', 'sqlite:./restored.db']));
      t.deepEqual(restored.problems, [], 'the restored database verifies');
      t.is(restored.lastTransaction, second.to);
      const source = log(dir, './live').filter((e) => e.tid <= second.to);
      t.true(source.length > 10);
      t.deepEqual(log(dir, './restored.db'), source, 'the restore equals the source as of the backup tid');
      const blobOid = source[2]!.oids[0]!;
      const a = spawnSync(process.execPath, [bin, 'blob', 'get', './restored.db', blobOid, '-'], { cwd: dir }).stdout;
      t.regex(a.toString(), /^blob \d+/);
    } finally {
      writer.stdin.end();
      await closed;
    }
  });
});

test('incremental backups copy only what is new (about 1% after 1% of the data changed); --at restores a past state', async (t) => {
  await withDir(async (dir) => {
    // 100 blobs of 64 KiB (~6.4 MB), one transaction each.
    const script = `const { openDatabase } = await import(${JSON.stringify(frameworkEntry)});
      const db = await openDatabase('filestorage2:./db'); const oids = [];
      for (let i = 0; i < 100; i++) oids.push(await db.transaction(async (tx) => { const b = await tx.createBlob(); const h = await b.open('w'); await h.write(new Uint8Array(65536).fill(i)); await h.close(); return b.oid; }));
      await db.close(); process.stdout.write(JSON.stringify(oids.map((o) => o.toString(16))));`;
    const made = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' });
    t.is(made.status, 0, made.stderr);
    const oids = JSON.parse(made.stdout) as string[];
    const full = json<{ bytes: number; transactions: number }>(handlerton(dir, ['--json', 'backup', './db', './bak']));
    t.is(full.transactions, 100);
    const before = log(dir, './db').at(-1)!.tid;
    await new Promise((resolve) => setTimeout(resolve, 5));
    await writeFile(join(dir, 'new.bin'), randomBytes(65536));
    t.is(handlerton(dir, ['blob', 'put', './db', 'new.bin', '--oid', oids[7]!]).status, 0, 'one blob of 100 changes');
    const incremental = json<{ bytes: number; transactions: number; full: boolean }>(handlerton(dir, ['--json', 'backup', './db', './bak']));
    t.false(incremental.full);
    t.is(incremental.transactions, 1);
    const share = incremental.bytes / full.bytes;
    t.true(share > 0.005 && share < 0.02, `the incremental backup is about 1% of the full one (${incremental.bytes} of ${full.bytes} bytes: ${(share * 100).toFixed(2)}%)`);
    // The state before the change, by tid and by time.
    t.is(handlerton(dir, ['restore', './bak', 'filestorage2:./past', '--at', before]).status, 0);
    const past = spawnSync(process.execPath, [bin, 'blob', 'get', './past', oids[7]!, '-'], { cwd: dir }).stdout;
    t.deepEqual(past, Buffer.alloc(65536, 7), '--at <tid>: the blob as it was');
    const now = spawnSync(process.execPath, [bin, 'blob', 'get', './db', oids[7]!, '-'], { cwd: dir }).stdout;
    t.deepEqual(now, await readFile(join(dir, 'new.bin')));
    const time = json<{ transactions: { time: string }[] }>(handlerton(dir, ['--json', 'log', './db', '--last', '2'])).transactions[0]!.time;
    const byTime = json<{ lastTransaction: string }>(handlerton(dir, ['--json', 'restore', './bak', 'sqlite:./past.db', '--at', time]));
    t.is(byTime.lastTransaction, before, '--at <time>: every transaction of that millisecond and before');
  });
});

test('restore refuses a damaged, incomplete or foreign backup, and backup refuses another database\'s directory', async (t) => {
  await withDir(async (dir) => {
    // Two blob puts (the demo packs, and a restore before its pack horizon would miss packed revisions).
    json(handlerton(dir, ['--json', 'blob', 'put', 'filestorage2:./a', '-'], Buffer.from('first')));
    await cp(join(dir, 'a'), join(dir, 'a-old'), { recursive: true }); // the same database, one transaction behind
    json(handlerton(dir, ['--json', 'blob', 'put', './a', '-'], Buffer.from('second')));
    t.is(handlerton(dir, ['demo', 'filestorage2:./b']).status, 0);
    json(handlerton(dir, ['--json', 'backup', './a', './bak']));
    const foreign = handlerton(dir, ['backup', './b', './bak']);
    t.is(foreign.status, 2, foreign.stderr);
    t.regex(foreign.stderr, /holds backups of database/);
    // The same database put back to an older state (a file-level copy taken earlier) does not continue these backups.
    const older = handlerton(dir, ['backup', './a-old', './bak']);
    t.is(older.status, 2, older.stderr);
    t.regex(older.stderr, /is older than the last backup's/);
    const [name] = readdirSync(join(dir, 'bak'));
    const file = join(dir, 'bak', name!);
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(file, bytes);
    const damaged = handlerton(dir, ['restore', './bak', 'sqlite:./r.db']);
    t.is(damaged.status, 1, damaged.stderr);
    t.regex(damaged.stderr, /HANDLERTON_CORRUPTION: backup file checksum mismatch/);
    t.throws(() => statSync(join(dir, 'r.db')), undefined, 'nothing was created');
    await writeFile(file, bytes.subarray(0, bytes.length - 40));
    t.regex(handlerton(dir, ['restore', './bak', 'sqlite:./r.db']).stderr, /HANDLERTON_CORRUPTION/);
    const missing = handlerton(dir, ['restore', './nothing-here', 'sqlite:./r.db']);
    t.is(missing.status, 2);
    t.regex(missing.stderr, /HANDLERTON_NOT_FOUND/);
  });
});
