/**
 * The open-time check that a FileStorage2 location is a FileStorage2 database, an empty directory or
 * missing: a directory holding other files (a typo'd path, a project directory, another engine's
 * database) is refused instead of having a database silently created inside it.
 */
import type { FileSystem } from '@handlerton/framework';
import { InvalidConfigError } from '@handlerton/framework';
import { LOCK_FILE } from './constants.js';
import { LOCATOR_KEY_FILE } from './locator-key.js';
import { isTemporaryFileName, parseSegmentFileName } from './naming.js';
import { ARCHIVE_DIR } from './retired-segments.js';

/** Names FileStorage2 itself puts in its directory besides segment files and temporary files. */
const OWN_NAMES: ReadonlySet<string> = new Set([LOCK_FILE, LOCATOR_KEY_FILE, 'blobs', ARCHIVE_DIR]);

/** How many foreign names the error lists. */
const NAMES_SHOWN = 5;

/**
 * Throws InvalidConfigError (option `<configPath>.location`) when `dir` is a file, or a directory
 * with entries that are not FileStorage2's and no segment file (so not a FileStorage2 database).
 * A missing or empty directory, or one holding a database (even with extra files of the user's
 * beside it), passes; other read errors are left to the open itself.
 */
export function assertDatabaseDirectory(fs: FileSystem, dir: string, configPath: string): void {
  const option = `${configPath}.location`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOTDIR also when a parent is a file: that is left to the open (StorageIOError naming the path).
    if (code === 'ENOTDIR' && isFile(fs, dir)) {
      throw new InvalidConfigError(`${option}: ${dir} is a file, not a FileStorage2 directory (FileStorage2 keeps a database in a directory)`, option);
    }
    return;
  }
  if (names.some((name) => parseSegmentFileName(name) !== null)) return;
  const foreign = names.filter((name) => !OWN_NAMES.has(name) && !isTemporaryFileName(name)).sort();
  if (foreign.length === 0) return;
  const shown = foreign.slice(0, NAMES_SHOWN).join(', ') + (foreign.length > NAMES_SHOWN ? `, … (${foreign.length} entries)` : '');
  throw new InvalidConfigError(
    `${option}: ${dir} is not a FileStorage2 database and not empty (it holds ${shown}); ` +
      'name a new or empty directory for a new database, or the directory of an existing one',
    option,
  );
}

function isFile(fs: FileSystem, path: string): boolean {
  try {
    return fs.statSync(path).isFile();
  } catch {
    return false;
  }
}
