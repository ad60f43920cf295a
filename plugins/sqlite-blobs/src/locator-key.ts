/**
 * The per-database locator secret (`Storage.locatorSecret`): 32 random bytes in the sidecar file
 * `<records file>-locator.key`, mode 0600. Created on first use through a temporary file (fsynced),
 * then hard-linked into place (so two processes racing to create it agree on the first one) and the
 * directory fsynced: after a crash the file is either absent or whole. Every file operation goes through
 * the engine context's FileSystem (callback API), so fault-injection tests reach it.
 */
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { CorruptionError, StorageIOError, type FileSystem } from '@handlerton/framework';
import { syncDirectory } from './location.js';

/** Size of the secret in bytes. */
export const LOCATOR_KEY_BYTES = 32;

/** The key file of the database whose records file is `recordsFile`. */
export function locatorKeyFile(recordsFile: string): string {
  return `${recordsFile}-locator.key`;
}

/** The secret kept beside `recordsFile`, created when missing unless `readOnly` (then null). CorruptionError when the file has the wrong size. */
export async function loadOrCreateLocatorKey(recordsFile: string, fs: FileSystem, readOnly = false): Promise<Uint8Array | null> {
  const path = locatorKeyFile(recordsFile);
  const existing = await readKey(fs, path);
  if (existing !== null || readOnly) return existing;
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const key = new Uint8Array(randomBytes(LOCATOR_KEY_BYTES));
  try {
    const fd = await call<number>((cb) => fs.open(tmp, 'wx', 0o600, cb));
    try {
      await writeWhole(fs, fd, key);
      await call<void>((cb) => fs.fsync(fd, cb));
    } finally {
      await call<void>((cb) => fs.close(fd, cb)).catch(() => undefined);
    }
    try {
      await call<void>((cb) => fs.link(tmp, path, cb));
    } catch (error) {
      if (codeOf(error) !== 'EEXIST') throw error;
      return (await readKey(fs, path)) ?? key; // another process created it first: use theirs
    }
    await syncDirectory(fs, dirname(path));
    return key;
  } catch (error) {
    if (error instanceof CorruptionError) throw error;
    throw new StorageIOError(`cannot create the locator key file ${path}: ${String(codeOf(error) ?? error)}`, { cause: error });
  } finally {
    await call<void>((cb) => fs.unlink(tmp, cb)).catch(() => undefined);
  }
}

/** Writes all of `bytes` at offset 0, continuing after a short write (a write may take fewer bytes than asked). */
async function writeWhole(fs: FileSystem, fd: number, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const n = await call<number>((cb) => fs.write(fd, bytes, done, bytes.length - done, done, cb));
    if (n <= 0) throw new StorageIOError(`the locator key write made no progress at byte ${done}`);
    done += n;
  }
}

async function readKey(fs: FileSystem, path: string): Promise<Uint8Array | null> {
  let bytes: Buffer;
  try {
    bytes = await call<Buffer>((cb) => fs.readFile(path, cb));
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return null;
    throw new StorageIOError(`cannot read the locator key file ${path}: ${String(codeOf(error) ?? error)}`, { cause: error });
  }
  if (bytes.length !== LOCATOR_KEY_BYTES) {
    throw new CorruptionError(`locator key file holds ${bytes.length} bytes, expected ${LOCATOR_KEY_BYTES}`, path, 0);
  }
  return new Uint8Array(bytes);
}

/** Runs a node-style callback call as a promise. */
function call<T>(start: (callback: (error: NodeJS.ErrnoException | null, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value as T))));
}

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}
