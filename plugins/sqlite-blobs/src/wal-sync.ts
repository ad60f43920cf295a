/**
 * The WAL pre-sync's file operations, through the injected FileSystem (callback API, so they run on
 * the thread pool and a test's fs can fail them).
 */
import type { FileSystem } from '@handlerton/framework';

/** Opens `file` read-only; undefined when it cannot be opened (no WAL yet). */
function openIfPresent(fs: FileSystem, file: string): Promise<number | undefined> {
  return new Promise((resolve) => fs.open(file, 'r', (error, fd) => resolve(error === null ? fd : undefined)));
}

/** fdatasync(2) of `fd`; rejects with the errno error. */
function datasync(fs: FileSystem, fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error === null ? resolve() : reject(error))));
}

/** Closes `fd`, ignoring errors (the data was synced or the sync error is reported). */
function closeQuietly(fs: FileSystem, fd: number): Promise<void> {
  return new Promise((resolve) => fs.close(fd, () => resolve()));
}

/** Flushes `file` to disk with fdatasync; false when the file does not exist; a failed sync rejects. */
export async function datasyncFile(fs: FileSystem, file: string): Promise<boolean> {
  const fd = await openIfPresent(fs, file);
  if (fd === undefined) return false;
  try {
    await datasync(fs, fd);
    return true;
  } finally {
    await closeQuietly(fs, fd);
  }
}
