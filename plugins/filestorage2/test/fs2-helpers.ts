/** Shared helpers for the FileStorage2 record tests. */
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NO_REFS,
  silentLogger,
  storageTransaction,
  systemClock,
  type EngineContext,
  type FileSystem,
  type Oid,
  type RecordRefs,
  type Tid,
} from '@handlerton/framework';
import { parseFileStorage2Options } from '../src/filestorage2-config.js';
import { FileStorage2 } from '../src/storage/filestorage2.js';

/** A fresh temporary directory; `cleanup` removes it. */
export async function tempDir(prefix = 'fs2-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** An engine context over node:fs (or the given fs). */
export function context(fsImpl: FileSystem = fs): EngineContext {
  return { clock: systemClock, logger: silentLogger, fs: fsImpl };
}

/** Opens a FileStorage2 in `dir` with raw options. */
export function openStorage(dir: string, options: Record<string, unknown> = {}, fsImpl: FileSystem = fs): Promise<FileStorage2> {
  return FileStorage2.open(parseFileStorage2Options(dir, options), context(fsImpl));
}

/** Bytes of a string. */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Text of bytes. */
export function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

/** One write of a commit: store (data), delete (null). */
export interface Write {
  readonly oid: Oid;
  readonly serial: Tid;
  readonly data: string | null;
  readonly refs?: RecordRefs;
}

/** Commits `writes` in one transaction; returns the tid. */
export async function commit(storage: FileStorage2, writes: readonly Write[], description = ''): Promise<Tid> {
  const txn = storageTransaction({ description });
  await storage.tpcBegin(txn);
  try {
    for (const w of writes) {
      if (w.data === null) await storage.deleteObject(w.oid, w.serial, txn);
      else await storage.store(w.oid, w.serial, { data: bytes(w.data), refs: w.refs ?? NO_REFS }, txn);
    }
    await storage.tpcVote(txn);
    return await storage.tpcFinish(txn);
  } catch (e) {
    await storage.tpcAbort(txn);
    throw e;
  }
}

/** The current data of `oid` as text, or null when it does not load. */
export async function loadText(storage: FileStorage2, oid: Oid): Promise<string | null> {
  try {
    return text((await storage.load(oid)).data);
  } catch {
    return null;
  }
}

/** Segment files in `dir`. */
export function segmentFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.startsWith('seg-') && n.endsWith('.fs2')).sort();
}
