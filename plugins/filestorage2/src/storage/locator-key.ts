/**
 * The per-database locator secret (`Storage.locatorSecret`): 32 random bytes in `LOCATOR_KEY` in the
 * storage directory, mode 0600, created on first use through a temporary file, fsync, rename and an
 * fsync of the directory, so that it is either absent or whole after a crash.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CorruptionError } from '@handlerton/framework';
import { ioError, type FileIO } from './file-io.js';

/** The key file's name in the storage directory. */
export const LOCATOR_KEY_FILE = 'LOCATOR_KEY';
/** Size of the secret in bytes. */
export const LOCATOR_KEY_BYTES = 32;

/**
 * The secret kept in `dir`, created when missing unless `readOnly`; null for a read-only open of a
 * directory without one (nothing is written). CorruptionError when the file has the wrong size.
 */
export async function loadOrCreateLocatorKey(io: FileIO, dir: string, readOnly: boolean): Promise<Uint8Array | null> {
  const path = join(dir, LOCATOR_KEY_FILE);
  const existing = readKey(io, path);
  if (existing !== null || readOnly) return existing;
  const tmp = `${path}.tmp`; // open removes *.tmp leftovers of a crash
  io.unlink(tmp);
  const key = new Uint8Array(randomBytes(LOCATOR_KEY_BYTES));
  let fd: number;
  try {
    fd = io.fs.openSync(tmp, 'wx', 0o600);
  } catch (e) {
    throw ioError('create', tmp, e);
  }
  try {
    io.writeAt(fd, key, 0, tmp);
    await io.fsync(fd, tmp);
  } finally {
    io.closeQuietly(fd);
  }
  io.rename(tmp, path);
  await io.fsyncDir(dir);
  return key;
}

function readKey(io: FileIO, path: string): Uint8Array | null {
  let bytes: Buffer;
  try {
    bytes = io.fs.readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError('read', path, e);
  }
  if (bytes.length !== LOCATOR_KEY_BYTES) {
    throw new CorruptionError(`locator key file holds ${bytes.length} bytes, expected ${LOCATOR_KEY_BYTES}`, path, 0);
  }
  return new Uint8Array(bytes);
}
