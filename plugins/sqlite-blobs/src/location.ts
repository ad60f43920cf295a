/** Checks of a database path before SQLite sees it: typed errors instead of stray files and raw errnos. */
import { dirname } from 'node:path';
import { InvalidConfigError, StorageIOError, type FileSystem } from '@handlerton/framework';

/**
 * Refuses a location SQLite could not open as given, before any file is touched: a NUL byte would
 * end the C string early, so SQLite would create (and lock) a file at the truncated path.
 */
export function checkLocation(location: string): void {
  if (typeof location !== 'string' || location.includes('\0')) {
    throw new InvalidConfigError(`path: a sqlite database path must not contain a NUL byte, got ${JSON.stringify(location)}`, 'path');
  }
}

/** Creates the directory of `file` through `fs`; a path through a regular file is a typed error naming the path. */
export function makeParentDirectory(file: string, fs: FileSystem): void {
  try {
    fs.mkdirSync(dirname(file), { recursive: true });
  } catch (error) {
    const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new InvalidConfigError(
        `path: cannot create the sqlite database ${file}: a component of ${dirname(file)} is not a directory (${code})`,
        'path',
        { cause: error },
      );
    }
    throw new StorageIOError(`cannot create the directory of the sqlite database ${file}: ${String(code ?? error)}`, { cause: error });
  }
}

/** fsyncs directory `dir` through `fs` (raw errno errors). */
export async function syncDirectory(fs: FileSystem, dir: string): Promise<void> {
  const fd = await call<number>((cb) => fs.open(dir, 'r', cb));
  try {
    await call<void>((cb) => fs.fsync(fd, cb));
  } finally {
    await call<void>((cb) => fs.close(fd, cb)).catch(() => undefined);
  }
}

/**
 * Makes the directory entries of a database file and its WAL durable. SQLite fsyncs the directory
 * when it creates a journal or WAL but ignores a failure there; a WAL whose entry a power cut loses
 * takes its commits with it, so the open fails instead (StorageIOError naming the directory).
 */
export async function syncDatabaseDirectory(file: string, fs: FileSystem): Promise<void> {
  try {
    await syncDirectory(fs, dirname(file));
  } catch (error) {
    const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
    throw new StorageIOError(`cannot make the directory entries of the sqlite database ${file} durable: fsync of ${dirname(file)} failed (${String(code ?? error)})`, { cause: error });
  }
}

/** Runs a node-style callback call as a promise. */
function call<T>(start: (callback: (error: NodeJS.ErrnoException | null, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value as T))));
}
