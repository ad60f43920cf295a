/** Test helpers: temp directories, engine openers and child processes. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { NO_REFS, storageTransaction, type RecordInput, type RecordRefs, type Storage, type Tid } from '@handlerton/framework';
import { SqliteBlobs, SqliteStorage, type SqliteOptions } from '../src/index.js';

/** A fresh temp dir removed when the test ends. */
export async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sqlite-blobs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Options for a database file in `dir`. */
export function optionsIn(dir: string, extra: Partial<SqliteOptions> = {}): SqliteOptions {
  return { location: join(dir, 'db.sqlite'), synchronous: 'full', chunkSize: 64 * 1024, busyTimeoutMs: 200, readOnly: false, ...extra };
}

/** Opens a storage in a fresh temp dir; closed at teardown. */
export async function openStorage(t: ExecutionContext, extra: Partial<SqliteOptions> = {}): Promise<{ storage: SqliteStorage; options: SqliteOptions }> {
  const options = optionsIn(await tempDir(t), extra);
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  return { storage, options };
}

/** Opens a blob handlerton in a fresh temp dir; closed at teardown. */
export async function openBlobs(t: ExecutionContext, extra: Partial<SqliteOptions> = {}): Promise<{ blobs: SqliteBlobs; options: SqliteOptions }> {
  const options = optionsIn(await tempDir(t), extra);
  const blobs = await SqliteBlobs.open(options);
  t.teardown(() => blobs.close());
  return { blobs, options };
}

/** A record with the given text as data. */
export function rec(text: string, refs: RecordRefs = NO_REFS): RecordInput {
  return { data: new TextEncoder().encode(text), refs };
}

/** Decodes record data as text. */
export function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

/** Commits one transaction storing `writes` (oid -> [serial, text]); returns its tid. */
export async function commit(storage: Storage, writes: [bigint, Tid, string][], meta: { user?: string; description?: string } = {}): Promise<Tid> {
  const txn = storageTransaction(meta);
  await storage.tpcBegin(txn);
  try {
    for (const [oid, serial, value] of writes) await storage.store(oid, serial, rec(value), txn);
    await storage.tpcVote(txn);
    return await storage.tpcFinish(txn);
  } catch (error) {
    await storage.tpcAbort(txn);
    throw error;
  }
}

/** Bytes filled with a pattern derived from `seed`. */
export function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7 + (i >> 12)) & 0xff;
  return out;
}

/** Runs `script` as an ES module in a child Node process (with `flags` first); its exit code and output. */
export function runChild(script: string, flags: readonly string[] = []): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...flags, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // 'close', not 'exit': 'exit' can come before the pipes are drained, losing the child's last lines.
    child.on('close', (code) => resolve({ code, out }));
  });
}
