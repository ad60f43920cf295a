/** Small helpers shared by the memory engine's tests. */
import { NO_REFS, storageTransaction } from '@handlerton/framework';
import type { BlobRef, Clock, Oid, RecordInput, Storage, Tid } from '@handlerton/framework';
import { MemoryStorage } from '../src/index.js';

/** A clock stuck at the epoch: tids come out as 1, 2, 3, ... */
export const stoppedClock: Clock = { now: () => 0 };

/** A storage whose tids are consecutive integers. */
export function consecutiveStorage(): MemoryStorage {
  return new MemoryStorage({ clock: stoppedClock });
}

/** A record holding `text`, optionally referencing blobs. */
export function rec(text: string, blobs: readonly BlobRef[] = []): RecordInput {
  return { data: new TextEncoder().encode(text), refs: blobs.length === 0 ? NO_REFS : { oids: [], blobs } };
}

/** The text of a record's data. */
export function text(record: { readonly data: Uint8Array }): string {
  return new TextDecoder().decode(record.data);
}

/** One write of `commit`: store text with serial, or delete (text null). */
export type Write = readonly [oid: Oid, serial: Tid, text: string | null, blobs?: readonly BlobRef[]];

/** Commits the writes in one transaction and returns its tid. */
export async function commit(storage: Storage, writes: readonly Write[], description = ''): Promise<Tid> {
  const txn = storageTransaction({ description });
  await storage.tpcBegin(txn);
  try {
    for (const [oid, serial, value, blobs] of writes) {
      if (value === null) await storage.deleteObject(oid, serial, txn);
      else await storage.store(oid, serial, rec(value, blobs), txn);
    }
    await storage.tpcVote(txn);
    return await storage.tpcFinish(txn);
  } catch (error) {
    await storage.tpcAbort(txn);
    throw error;
  }
}

/** Lets pending promise callbacks and one macrotask run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Collects an async iterable into an array. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
