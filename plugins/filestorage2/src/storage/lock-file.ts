/** The storage directory's lock file: O_EXCL create holding the owner's pid; stale locks of dead pids are taken over. */
import { join, resolve } from 'node:path';
import { StorageLockedError } from '@handlerton/framework';
import { LOCK_FILE } from './constants.js';
import { ioError, type FileIO } from './file-io.js';

/** Lock files held by this process: one with our own pid that is not in here was left by a failed release. */
const heldHere = new Set<string>();

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
      const ownStale = pid === process.pid && !heldHere.has(resolve(path));
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
      io.writeAt(fd, Buffer.from(`${process.pid}\n`), 0, path);
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
    heldHere.add(resolve(path));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      heldHere.delete(resolve(path));
      try {
        io.unlink(path);
      } catch {
        // the directory is gone or the disk is dead: nothing left to release
      }
    };
  }
  throw new StorageLockedError(`storage ${dir} is locked (lock file keeps changing)`);
}
