/** One owner per blob directory: a LOCK file holding the owner's pid (stale locks are taken over). */
import { resolve } from 'node:path';
import { StorageLockedError } from '@handlerton/framework';
import { FsOps, hasCode } from './fs-ops.js';

/** Directories held by this process (a pid check cannot tell two owners in one process apart). */
const heldHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return hasCode(error, 'EPERM');
  }
}

/** Takes the lock of `dir` (lock file `lockPath`); returns its release function. */
export async function lockDirectory(ops: FsOps, dir: string, lockPath: string): Promise<() => Promise<void>> {
  const key = resolve(dir);
  if (heldHere.has(key)) throw new StorageLockedError(`blob directory ${dir} is already open in this process`);
  heldHere.add(key);
  try {
    let fd: number;
    try {
      fd = await ops.open(lockPath, 'wx');
    } catch (error) {
      if (!hasCode(error, 'EEXIST')) throw error;
      const owner = Number.parseInt((await ops.readSmallFile(lockPath)).toString('utf8'), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new StorageLockedError(`blob directory ${dir} is locked by process ${owner}`);
      }
      fd = await ops.open(lockPath, 'w');
    }
    try {
      const text = Buffer.from(String(process.pid));
      await ops.writeFully(fd, text, 0, text.length, 0);
    } catch (error) {
      // a torn pid (a short write, then ENOSPC) could name some other live process: leave no lock file
      await ops.unlink(lockPath).catch(() => undefined);
      throw error;
    } finally {
      await ops.close(fd);
    }
  } catch (error) {
    heldHere.delete(key);
    throw error;
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    heldHere.delete(key);
    await ops.unlink(lockPath).catch(() => undefined);
  };
}
