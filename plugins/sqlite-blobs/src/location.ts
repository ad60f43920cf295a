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
