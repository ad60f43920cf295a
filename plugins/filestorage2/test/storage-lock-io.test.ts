import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'ava';
import { isHandlertonError, type FileSystem } from '@handlerton/framework';
import { commit, loadText, openStorage, tempDir, text } from './fs2-helpers.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const storageModule = pathToFileURL(join(here, '../src/storage/filestorage2.js')).href;
const configModule = pathToFileURL(join(here, '../src/filestorage2-config.js')).href;

/** Runs a child node process that opens `dir` and prints "OPENED" or the error code. */
function openInChild(dir: string): Promise<string> {
  const script = `
    const { FileStorage2 } = await import(${JSON.stringify(storageModule)});
    const { parseFileStorage2Options } = await import(${JSON.stringify(configModule)});
    const fs = await import('node:fs');
    const ctx = { clock: { now: () => Date.now() }, logger: { debug(){}, info(){}, warn(){}, error(){}, child() { return this; } }, fs };
    try {
      const s = await FileStorage2.open(parseFileStorage2Options(${JSON.stringify(dir)}, {}), ctx);
      await s.close();
      console.log('OPENED');
    } catch (e) {
      console.log(e.code ?? String(e));
    }
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: join(here, '..'), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out.trim()));
  });
}

test('a second process gets StorageLockedError while the first holds the directory', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    await commit(s, [{ oid: 1n, serial: 0n, data: 'mine' }]);
    t.is(await openInChild(dir), 'HANDLERTON_STORAGE_LOCKED');
    // in-process second open is refused too
    t.true(isHandlertonError(await t.throwsAsync(openStorage(dir)), 'HANDLERTON_STORAGE_LOCKED'));
    await s.close();
    t.is(await openInChild(dir), 'OPENED');
  } finally {
    await cleanup();
  }
});

test('a stale lock of a dead process is taken over', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    await commit(s, [{ oid: 1n, serial: 0n, data: 'kept' }]);
    await s.close();
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']);
    t.truthy(dead.pid);
    fs.writeFileSync(join(dir, 'LOCK'), `${dead.pid}\n`);
    const r = await openStorage(dir);
    t.is(await loadText(r, 1n), 'kept');
    t.is(fs.readFileSync(join(dir, 'LOCK'), 'utf8').trim().split(' ')[0], String(process.pid));
    await r.close();
    t.false(fs.existsSync(join(dir, 'LOCK')));
  } finally {
    await cleanup();
  }
});

for (const inlineSync of [true, false]) {
  test(`a failing fdatasync is fail-stop: the commit is refused, acknowledged data survives (inlineSync: ${inlineSync})`, async (t) => {
    const { dir, cleanup } = await tempDir();
    try {
      let failing = false;
      const eio = (): NodeJS.ErrnoException => Object.assign(new Error('EIO: injected i/o error, fdatasync'), { code: 'EIO' });
      const faulty = {
        ...fs,
        fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void) {
          if (failing) setImmediate(() => cb(eio()));
          else fs.fdatasync(fd, cb);
        },
        fdatasyncSync(fd: number) {
          if (failing) throw eio();
          fs.fdatasyncSync(fd);
        },
      } as unknown as FileSystem;
      const s = await openStorage(dir, { inlineSync }, faulty);
      let serial = 0n;
      for (let i = 0; i < 3; i++) serial = await commit(s, [{ oid: 1n, serial, data: `ack ${i}` }, { oid: BigInt(10 + i), serial: 0n, data: 'x' }]);
      failing = true;
      const err = await t.throwsAsync(commit(s, [{ oid: 1n, serial, data: 'never acked' }]));
      t.true(isHandlertonError(err, 'HANDLERTON_IO'));
      failing = false;
      // fail-stop: no retry that could acknowledge lost data
      t.true(isHandlertonError(await t.throwsAsync(commit(s, [{ oid: 2n, serial: 0n, data: 'later' }])), 'HANDLERTON_IO'));
      t.is(await loadText(s, 1n), 'ack 2', 'reads still work and never show the failed commit');
      await s.close();
      const r = await openStorage(dir);
      const v = await loadText(r, 1n);
      t.true(v === 'ack 2' || v === 'never acked', 'every acknowledged commit is there');
      for (let i = 0; i < 3; i++) t.is(await loadText(r, BigInt(10 + i)), 'x');
      t.is(await loadText(r, 2n), null);
      await r.close();
    } finally {
      await cleanup();
    }
  });
}

test('inlineSync: a lone commit runs its fdatasync on the calling thread; concurrent committers and inlineSync false use the thread pool', async (t) => {
  const counts = { inline: 0, pool: 0 };
  // the syncs only count (instant, so that no slow disk moment turns the inline path off mid-test)
  const counting = {
    ...fs,
    fdatasync(_fd: number, cb: (err: NodeJS.ErrnoException | null) => void) {
      counts.pool++;
      setImmediate(() => cb(null));
    },
    fdatasyncSync(_fd: number) {
      counts.inline++;
    },
  } as unknown as FileSystem;
  for (const inlineSync of [true, false]) {
    const { dir, cleanup } = await tempDir();
    try {
      // a segment large enough that no zero-filling of a next segment (its own fdatasyncs) starts
      const s = await openStorage(dir, { inlineSync, segmentSize: 1 << 30 }, counting);
      counts.inline = counts.pool = 0;
      for (let i = 1; i <= 5; i++) await commit(s, [{ oid: BigInt(i), serial: 0n, data: 'lone' }]);
      const lone = { ...counts };
      counts.inline = counts.pool = 0;
      await Promise.all(Array.from({ length: 8 }, (_, i) => commit(s, [{ oid: BigInt(100 + i), serial: 0n, data: 'together' }])));
      const together = { ...counts };
      if (inlineSync) {
        t.deepEqual(lone, { inline: 5, pool: 0 }, 'five lone commits, five fdatasyncs on the calling thread');
        t.true(together.pool >= 1, 'committers queued behind one another share a thread-pool fdatasync');
      } else {
        t.deepEqual(lone, { inline: 0, pool: 5 });
        t.is(together.inline, 0);
      }
      for (let i = 0; i < 8; i++) t.is(await loadText(s, BigInt(100 + i)), 'together');
      await s.close();
    } finally {
      await cleanup();
    }
  }
});

test('read-only open: no lock, no writes, ReadOnlyError', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    await commit(s, [{ oid: 1n, serial: 0n, data: 'ro' }]);
    const ro = await openStorage(dir, { readOnly: true });
    t.true(ro.capabilities.readOnly);
    t.is(await loadText(ro, 1n), 'ro');
    t.true(isHandlertonError(await t.throwsAsync(ro.newOid()), 'HANDLERTON_READ_ONLY'));
    await ro.close();
    await s.close();
  } finally {
    await cleanup();
  }
});

test('simulated crash: acknowledged commits survive, a voted but unfinished one does not', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir, { syncMode: 'none' });
    const tid = await commit(s, [{ oid: 1n, serial: 0n, data: 'acknowledged' }]);
    const { storageTransaction, NO_REFS } = await import('@handlerton/framework');
    const txn = storageTransaction();
    await s.tpcBegin(txn);
    await s.store(2n, 0n, { data: new Uint8Array([1]), refs: NO_REFS }, txn);
    await s.tpcVote(txn);
    await s.simulateCrash();
    const r = await openStorage(dir);
    t.is(await loadText(r, 1n), 'acknowledged');
    t.is(r.lastTransaction(), tid);
    t.is(await loadText(r, 2n), null);
    await r.close();
  } finally {
    await cleanup();
  }
});

test('inlineSync: on a slow disk (5 ms fdatasyncs) lone commits move to the thread pool and stay there', async (t) => {
  const DELAY_MS = 5;
  const calls: ('inline' | 'pool')[] = [];
  const slow = {
    ...fs,
    fdatasync(_fd: number, cb: (err: NodeJS.ErrnoException | null) => void) {
      calls.push('pool');
      setTimeout(() => cb(null), DELAY_MS);
    },
    fdatasyncSync(_fd: number) {
      calls.push('inline');
      const until = performance.now() + DELAY_MS;
      while (performance.now() < until); // a disk that holds the calling thread
    },
  } as unknown as FileSystem;
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir, { segmentSize: 1 << 30 }, slow);
    calls.length = 0;
    for (let i = 1; i <= 40; i++) await commit(s, [{ oid: BigInt(i), serial: 0n, data: 'slow' }]);
    t.is(calls.length, 40);
    t.is(calls[0], 'inline', 'the first lone commit tries the inline path');
    const firstPool = calls.indexOf('pool');
    t.true(firstPool > 0 && firstPool <= 20, `the inline path turned off after ${firstPool} slow fdatasyncs`);
    t.deepEqual(calls.slice(firstPool), calls.slice(firstPool).map(() => 'pool'), 'and stays off while the disk is slow');
    await s.close();
  } finally {
    await cleanup();
  }
});

test('group commit: a transaction beginning while an earlier one waits for its fdatasync sees its writes', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    let hold = false;
    const held: (() => void)[] = [];
    const slowDisk = {
      ...fs,
      fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void) {
        if (hold) held.push(() => fs.fdatasync(fd, cb));
        else fs.fdatasync(fd, cb);
      },
    } as unknown as FileSystem;
    const { storageTransaction, NO_REFS } = await import('@handlerton/framework');
    // the held fdatasync must be a thread-pool one: a lone commit would run its own inline
    const s = await openStorage(dir, { inlineSync: false }, slowDisk);
    const t0 = await commit(s, [{ oid: 1n, serial: 0n, data: 'zero' }]);
    hold = true;
    const first = storageTransaction();
    const firstTid = await s.tpcBegin(first);
    await s.store(1n, t0, { data: new TextEncoder().encode('one'), refs: NO_REFS }, first);
    await s.tpcVote(first);
    const firstDone = s.tpcFinish(first); // queued: its fdatasync is held
    const second = storageTransaction();
    await s.tpcBegin(second);
    t.is(s.lastTransaction(), t0, 'the first transaction is not visible before it is durable');
    t.is(await loadText(s, 1n), 'zero');
    // the second transaction's conflict check already counts the queued write
    t.true(isHandlertonError(await t.throwsAsync(s.store(1n, t0, { data: new Uint8Array([9]), refs: NO_REFS }, second)), 'HANDLERTON_CONFLICT'));
    await s.store(1n, firstTid, { data: new TextEncoder().encode('two'), refs: NO_REFS }, second);
    await s.tpcVote(second);
    const secondDone = s.tpcFinish(second);
    await new Promise((r) => setTimeout(r, 20));
    hold = false;
    for (const release of held.splice(0)) release();
    const [tid1, tid2] = await Promise.all([firstDone, secondDone]);
    t.is(tid1, firstTid);
    t.is(await loadText(s, 1n), 'two');
    await s.close();
    const r = await openStorage(dir);
    t.deepEqual((await r.history(1n, 10)).map((h) => h.tid), [tid2, tid1, t0], 'previous-revision pointers chain across the group');
    t.is(text((await r.loadSerial(1n, tid1)).data), 'one');
    await r.close();
  } finally {
    await cleanup();
  }
});
