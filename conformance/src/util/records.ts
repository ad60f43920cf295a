/** Helpers for storage-level cases: bytes, records and whole two-phase commits. */
import assert from 'node:assert/strict';
import {
  NO_REFS,
  storageTransaction,
  type BlobRef,
  type Oid,
  type RecordInput,
  type Storage,
  type StorageTransaction,
  type Tid,
  type TransactionMeta,
} from '@handlerton/framework';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Text of UTF-8 `data`. */
export function text(data: Uint8Array): string {
  return decoder.decode(data);
}

/** A record with `data` (text or bytes) and optional references. */
export function rec(data: string | Uint8Array, refs: { oids?: readonly Oid[]; blobs?: readonly BlobRef[] } = {}): RecordInput {
  return {
    data: typeof data === 'string' ? bytes(data) : data,
    refs: refs.oids === undefined && refs.blobs === undefined ? NO_REFS : { oids: refs.oids ?? [], blobs: refs.blobs ?? [] },
  };
}

/** One write of a commit: a store (`data`) or, with `delete: true`, a delete marker. */
export interface Write {
  readonly oid: Oid;
  readonly serial: Tid;
  readonly data?: string | Uint8Array;
  readonly refs?: { oids?: readonly Oid[]; blobs?: readonly BlobRef[] };
  readonly delete?: boolean;
}

/** Runs a whole two-phase commit of `writes`; aborts and rethrows on any failure. Returns the tid. */
export async function commit(storage: Storage, writes: readonly Write[], meta: Partial<TransactionMeta> = {}): Promise<Tid> {
  const txn = storageTransaction(meta);
  await storage.tpcBegin(txn);
  try {
    for (const w of writes) {
      if (w.delete === true) await storage.deleteObject(w.oid, w.serial, txn);
      else await storage.store(w.oid, w.serial, rec(w.data ?? '', w.refs), txn);
    }
    await storage.tpcVote(txn);
    return await storage.tpcFinish(txn);
  } catch (e) {
    await storage.tpcAbort(txn);
    throw e;
  }
}

/** Begins a transaction and returns it with its tid (for cases that drive 2PC by hand). */
export async function begin(storage: Storage, meta: Partial<TransactionMeta> = {}): Promise<{ txn: StorageTransaction; tid: Tid }> {
  const txn = storageTransaction(meta);
  const tid = await storage.tpcBegin(txn);
  return { txn, tid };
}

/** Creates a new object with `data`; returns its oid and serial. */
export async function createObject(storage: Storage, data: string | Uint8Array = 'v0'): Promise<{ oid: Oid; tid: Tid }> {
  const oid = await storage.newOid();
  const tid = await commit(storage, [{ oid, serial: 0n, data }]);
  return { oid, tid };
}

/** Writes `count` successive revisions of a new object; returns the oid and the tids, oldest first. */
export async function revisions(storage: Storage, count: number, prefix = 'rev'): Promise<{ oid: Oid; tids: Tid[] }> {
  const oid = await storage.newOid();
  const tids: Tid[] = [];
  let serial = 0n;
  for (let i = 0; i < count; i++) {
    serial = await commit(storage, [{ oid, serial, data: `${prefix}${i}` }]);
    tids.push(serial);
  }
  return { oid, tids };
}

/** Asserts that `oid` currently loads `expected` (text) at serial `tid` (when given). */
export async function assertLoads(storage: Storage, oid: Oid, expected: string, tid?: Tid): Promise<void> {
  const loaded = await storage.load(oid);
  assert.equal(text(loaded.data), expected, `load(${oid}) data`);
  assert.equal(loaded.oid, oid, `load(${oid}).oid`);
  if (tid !== undefined) assert.equal(loaded.tid, tid, `load(${oid}).tid`);
}

/** Collects an async iterable into an array. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Resolves after the event loop turned `n` times (lets queued work run). */
export async function ticks(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Waits `ms` milliseconds (so that the next tid lies in a later millisecond than the last one). */
export async function sleep(ms: number): Promise<void> {
  await new Promise<void>((resolve) => setTimeout(resolve, ms));
}
