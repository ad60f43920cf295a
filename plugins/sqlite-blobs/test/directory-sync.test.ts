/**
 * SQLite fsyncs the directory when it creates a WAL but ignores a failure there (found by the strace
 * fault sweep: a failed directory fsync surfaced nowhere). The engine fsyncs the directory itself
 * once the WAL exists, and a failure fails the open: commits are never acknowledged into a WAL whose
 * directory entry a power cut could lose.
 */
import realFs from 'node:fs';
import { dirname, join } from 'node:path';
import test from 'ava';
import { isHandlertonError, openDatabase, type FileSystem } from '@handlerton/framework';
import { tempDir } from './helpers.js';

/** node:fs whose fsync of directory `dir` fails with EIO (callback and sync forms). */
function failingDirectorySync(dir: string): { fs: FileSystem; failed: () => number } {
  const dirFds = new Set<number>();
  let failed = 0;
  const eio = (): NodeJS.ErrnoException => Object.assign(new Error(`EIO: i/o error, fsync`), { code: 'EIO', errno: -5, syscall: 'fsync' });
  const fs = new Proxy(realFs, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (key === 'open') {
        return (path: string, flags: string, callback: (error: NodeJS.ErrnoException | null, fd?: number) => void) =>
          target.open(path, flags, (error, fd) => {
            if (!error && path === dir) dirFds.add(fd);
            callback(error, fd);
          });
      }
      if (key === 'fsync') {
        return (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
          if (!dirFds.has(fd)) return target.fsync(fd, callback);
          failed++;
          process.nextTick(() => callback(eio()));
        };
      }
      if (key === 'close') {
        return (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
          dirFds.delete(fd);
          target.close(fd, callback);
        };
      }
      return value;
    },
  }) as FileSystem;
  return { fs, failed: () => failed };
}

test('a failed fsync of the database directory at open is a StorageIOError naming it; nothing stays locked', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'db.sqlite');
  const injected = failingDirectorySync(dirname(path));
  const err = await t.throwsAsync(openDatabase({ engine: 'sqlite', path, locatorSecret: 'a secret of 16+ characters' }, { fs: injected.fs }));
  t.true(isHandlertonError(err, 'HANDLERTON_IO'), String(err));
  t.true(err!.message.includes(dirname(path)) && err!.message.includes('EIO'), err!.message);
  t.true(injected.failed() >= 1);
  // the lock was released: a healthy open works and the database is usable
  const db = await openDatabase({ engine: 'sqlite', path, locatorSecret: 'a secret of 16+ characters' });
  try {
    await db.transaction(async (tx) => tx.write(0n, new TextEncoder().encode('root')));
    t.truthy(db.lastTransaction());
  } finally {
    await db.close();
  }
});
