/**
 * Read-only opens of a database that another process is writing: a read racing the writer's appends
 * can see a transaction half written with a later one complete. That is not damage; the open reads
 * again (it raised CorruptionError before, failing `handlerton backup` of a live database).
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '@handlerton/framework';

const frameworkEntry = import.meta.resolve('@handlerton/framework');

test('read-only opens succeed and read a consistent prefix while another process commits continuously', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fs2-ro-live-'));
  const script = `const { openDatabase } = await import(${JSON.stringify(frameworkEntry)});
    const db = await openDatabase('filestorage2:' + ${JSON.stringify(join(dir, 'db'))});
    let stop = false; process.stdin.on('end', () => (stop = true)); process.stdin.resume();
    const oids = await db.transaction(async (tx) => { const o = []; for (let i = 0; i < 20; i++) o.push(await tx.create(new Uint8Array(300))); return o; });
    process.stdout.write('writing\\n');
    for (let n = 1; !stop; n++) {
      // Several transactions at once: the writer's batches then hold more than one transaction.
      await Promise.all([0, 1, 2, 3].map((k) => db.transaction(async (tx) => { for (const oid of oids.slice(k * 5, k * 5 + 5)) await tx.write(oid, new Uint8Array(300 + (n % 200)).fill(n & 255)); }).catch(() => {})));
      // Paced: a reader's open scans the whole active segment, which must not grow without bound meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await db.close();`;
  const writer = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const closed = new Promise<void>((resolve) => writer.once('close', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      writer.stdout.on('data', (d: Buffer) => (d.toString().includes('writing') ? resolve() : undefined));
      writer.once('exit', (code) => reject(new Error(`writer exited with ${code}`)));
    });
    let last = 0n;
    for (let i = 0; i < 15; i++) {
      const db = await openDatabase({ engine: 'filestorage2', path: join(dir, 'db'), options: { readOnly: true } });
      try {
        t.true(db.lastTransaction() >= last, 'each open sees at least what the previous one saw');
        last = db.lastTransaction();
      } finally {
        await db.close();
      }
    }
    t.true(last > 0n);
  } finally {
    writer.stdin.end();
    await closed;
    await rm(dir, { recursive: true, force: true });
  }
});
