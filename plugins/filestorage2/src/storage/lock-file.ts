/** The storage directory's lock file: O_EXCL create holding the owner's pid; stale locks of dead pids are taken over. */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { StorageLockedError } from '@handlerton/framework';
import { LOCK_FILE } from './constants.js';
import { ioError, type FileIO } from './file-io.js';

/**
 * Locks this thread failed to remove at release (path and exact contents). Only such a lock, naming
 * our own pid and the token this thread wrote, is taken over; any other lock naming our pid may be
 * held by another worker thread or another copy of this module in the same process.
 */
const leftBehind = new Set<string>();

function lockKey(path: string, contents: string): string {
  return `${resolve(path)}\n${contents.trim()}`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock of `dir`; StorageLockedError when a live process holds it. Returns the release function. */
export async function acquireLock(io: FileIO, dir: string): Promise<() => void> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    // the pid first (older readers parse only it), then a token naming this acquisition
    const contents = `${process.pid} ${randomBytes(8).toString('hex')}\n`;
    try {
      fd = io.fs.openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError('create lock', path, e);
      let text = '';
      try {
        text = io.fs.readFileSync(path, 'utf8');
      } catch (readErr) {
        if ((readErr as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw ioError('read lock', path, readErr);
      }
      const pid = Number.parseInt(text.trim(), 10);
      const ownStale = pid === process.pid && leftBehind.delete(lockKey(path, text));
      if (Number.isInteger(pid) && pid > 0 && !ownStale && processAlive(pid)) {
        throw new StorageLockedError(`storage ${dir} is locked by process ${pid}`);
      }
      if (!Number.isInteger(pid) || pid <= 0) {
        // a lock file without a pid: its creator died between create and write, or it is being written now
        await new Promise((r) => setTimeout(r, 50));
        const again = io.fs.existsSync(path) ? io.fs.readFileSync(path, 'utf8') : '';
        if (again.trim() !== text.trim()) continue;
      }
      io.unlink(path); // stale: the owner is dead
      continue;
    }
    try {
      // no fsync: the lock only excludes live processes; after a crash its pid is dead and it is taken over
      io.writeAt(fd, Buffer.from(contents), 0, path);
    } catch (e) {
      // a torn pid (a short write, then ENOSPC) could name some other live process: leave no lock file
      try {
        io.unlink(path);
      } catch {
        // the disk is failing: the next open reads whatever is left
      }
      throw e;
    } finally {
      io.closeQuietly(fd);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      try {
        io.unlink(path);
      } catch {
        // the directory is gone or the disk is dead: a reopen by this thread may take this lock over
        leftBehind.add(lockKey(path, contents));
      }
    };
  }
  throw new StorageLockedError(`storage ${dir} is locked (lock file keeps changing)`);
}
