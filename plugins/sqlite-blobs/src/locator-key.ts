/**
 * The per-database locator secret (`Storage.locatorSecret`): 32 random bytes in the sidecar file
 * `<records file>-locator.key`, mode 0600. Created on first use through a temporary file (fsynced),
 * then hard-linked into place (so two processes racing to create it agree on the first one) and the
 * directory fsynced: after a crash the file is either absent or whole.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CorruptionError, StorageIOError } from '@handlerton/framework';

/** Size of the secret in bytes. */
export const LOCATOR_KEY_BYTES = 32;

/** The key file of the database whose records file is `recordsFile`. */
export function locatorKeyFile(recordsFile: string): string {
  return `${recordsFile}-locator.key`;
}

/** The secret kept beside `recordsFile`, created when missing. CorruptionError when the file has the wrong size. */
export async function loadOrCreateLocatorKey(recordsFile: string): Promise<Uint8Array> {
  const path = locatorKeyFile(recordsFile);
  const existing = await readKey(path);
  if (existing !== null) return existing;
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const key = new Uint8Array(randomBytes(LOCATOR_KEY_BYTES));
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(key);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(tmp, path);
    } catch (error) {
      if (codeOf(error) !== 'EEXIST') throw error;
      return (await readKey(path)) ?? key; // another process created it first: use theirs
    }
    await syncDirectory(dirname(path));
    return key;
  } catch (error) {
    if (error instanceof CorruptionError) throw error;
    throw new StorageIOError(`cannot create the locator key file ${path}: ${String(codeOf(error) ?? error)}`, { cause: error });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function readKey(path: string): Promise<Uint8Array | null> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return null;
    throw new StorageIOError(`cannot read the locator key file ${path}: ${String(codeOf(error) ?? error)}`, { cause: error });
  }
  if (bytes.length !== LOCATOR_KEY_BYTES) {
    throw new CorruptionError(`locator key file holds ${bytes.length} bytes, expected ${LOCATOR_KEY_BYTES}`, path, 0);
  }
  return new Uint8Array(bytes);
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}
