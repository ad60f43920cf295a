/**
 * Blob drafts keep their changed chunks in temporary files named `htpg-draft-<pid>-<random>`. A process
 * killed with a draft open leaves its file behind; the next blob handlerton opened on the same machine
 * removes the files of processes that no longer exist (never a live process's, never its own).
 */
import { join } from 'node:path';
import type { FileSystem } from '@handlerton/framework';

const DRAFT = /^htpg-draft-(\d+)-[0-9a-f]{16}$/;

/** The temporary file name of a new draft of this process. */
export function draftFileName(random: string): string {
  return `htpg-draft-${process.pid}-${random}`;
}

/** True when process `pid` exists on this machine (a permission error still means it exists). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the draft files in `dir` left by processes that died; returns how many. Never throws. */
export async function removeStaleDrafts(fs: FileSystem, dir: string): Promise<number> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const pid = Number(DRAFT.exec(name)?.[1] ?? NaN);
    if (!Number.isSafeInteger(pid) || pid === process.pid || alive(pid)) continue;
    try {
      await fs.promises.rm(join(dir, name), { force: true });
      removed++;
    } catch {
      // another process removed it first, or it is not ours to remove: leave it
    }
  }
  return removed;
}
