import test from 'ava';
import * as nodeFs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type FileSystem } from '@handlerton/framework';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** node:fs with fdatasync/fsync that fail with EIO while `failing` is set. */
function failingDisk(): { fs: FileSystem; fail(on: boolean): void } {
  let failing = false;
  const eio = (callback: (err: NodeJS.ErrnoException | null) => void): void => {
    const error: NodeJS.ErrnoException = new Error('EIO: injected i/o error');
    error.code = 'EIO';
    setImmediate(() => callback(error));
  };
  const fs = new Proxy(nodeFs, {
    get(target, prop, receiver) {
      if (failing && (prop === 'fdatasync' || prop === 'fsync')) return (_fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => eio(cb);
      if (failing && (prop === 'fdatasyncSync' || prop === 'fsyncSync')) {
        return () => {
          const error: NodeJS.ErrnoException = new Error('EIO: injected i/o error');
          error.code = 'EIO';
          throw error;
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return { fs, fail: (on) => void (failing = on) };
}

test('a failing disk injected through the database container: the commit fails typed, nothing acknowledged is lost', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fs2-faildisk-'));
  try {
    const disk = failingDisk();
    const db = await openDatabase(`filestorage2:${dir}`, { fs: disk.fs });
    const kept = await db.transaction(async (tx) => tx.create(enc('acknowledged')));
    disk.fail(true);
    const error = await t.throwsAsync(db.transaction(async (tx) => tx.create(enc('never acknowledged'))));
    t.is((error as { code?: string }).code, 'HANDLERTON_IO');
    // Fail-stop: the engine refuses further writes after a failed fsync, even once the disk recovers.
    disk.fail(false);
    const again = await t.throwsAsync(db.transaction(async (tx) => tx.create(enc('after the failure'))));
    t.truthy((again as { code?: string }).code);
    await db.close().catch(() => undefined);

    const reopened = await openDatabase(`filestorage2:${dir}`);
    const snap = await reopened.snapshot();
    t.is(dec((await snap.read(kept)).data), 'acknowledged');
    await snap.close();
    await reopened.transaction(async (tx) => void (await tx.create(enc('writes work again after reopen'))));
    await reopened.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
