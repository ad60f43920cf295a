/** Helpers for cases on the raw BlobHandlerton contract and on Database blob handles. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  blobTransaction,
  storageTransaction,
  type BlobHandle,
  type BlobHandlerton,
  type BlobId,
  type BlobRef,
  type Oid,
  type Storage,
  type Tid,
} from '@handlerton/framework';
import { rec } from './records.js';

/** Reads a whole committed revision (small blobs only) through a RevisionReader. */
export async function readRevision(blobs: BlobHandlerton, blobId: BlobId, revision: Tid): Promise<Uint8Array> {
  const reader = await blobs.openRevision(blobId, revision);
  try {
    const out = new Uint8Array(reader.size);
    let at = 0;
    while (at < out.length) {
      const n = await reader.read(out.subarray(at), at);
      if (n === 0) break;
      at += n;
    }
    assert.equal(at, reader.size, 'read the whole revision');
    return out;
  } finally {
    await reader.close();
  }
}

/** SHA-256 and size of a revision, streamed in chunks (for blobs of any size). */
export async function digestRevision(blobs: BlobHandlerton, blobId: BlobId, revision: Tid): Promise<{ size: number; sha: string }> {
  const reader = await blobs.openRevision(blobId, revision);
  try {
    const hash = createHash('sha256');
    const chunk = new Uint8Array(256 * 1024);
    let at = 0;
    for (;;) {
      const n = await reader.read(chunk, at);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
      at += n;
    }
    return { size: at, sha: hash.digest('hex') };
  } finally {
    await reader.close();
  }
}

/** Deterministic pseudo-random bytes (chunk `index` of a stream seeded by `seed`). */
export function patternChunk(seed: number, index: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761 + index * 40503 + 1) >>> 0;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The SHA-256 of `count` pattern chunks of `size` bytes. */
export function patternSha(seed: number, count: number, size: number): string {
  const hash = createHash('sha256');
  for (let i = 0; i < count; i++) hash.update(patternChunk(seed, i, size));
  return hash.digest('hex');
}

/** One blob revision to commit with a record: the blob's object oid and its full contents. */
export interface BlobWrite {
  readonly oid: Oid;
  readonly blobId: BlobId;
  readonly data: Uint8Array;
  /** Base revision for the draft (null = start empty). */
  readonly base?: Tid | null;
}

/**
 * Commits records that reference new blob revisions, coordinating storage and blob handlerton the
 * way the framework does: drafts, refs, prepare at the storage tid, storage finish, blob commit.
 * Returns the tid and the refs written.
 */
export async function commitBlobRecords(
  storage: Storage,
  blobs: BlobHandlerton,
  writes: readonly (BlobWrite & { serial: Tid })[],
): Promise<{ tid: Tid; refs: BlobRef[] }> {
  const txn = storageTransaction({ description: 'blob commit' });
  const btxn = blobTransaction();
  const tid = await storage.tpcBegin(txn);
  try {
    const refs: BlobRef[] = [];
    for (const w of writes) {
      const draft = await blobs.createDraft(btxn, w.blobId, w.oid, w.base ?? null);
      if (w.base === undefined || w.base === null) await draft.truncate(0);
      await draft.write(w.data, 0);
      if (w.base !== undefined && w.base !== null) await draft.truncate(w.data.length);
      const ref: BlobRef = { handlerton: blobs.name, blobId: w.blobId, revision: tid };
      refs.push(ref);
      await storage.store(w.oid, w.serial, rec(`blob:${w.blobId}`, { blobs: [ref] }), txn);
    }
    await blobs.addReferences(btxn, refs);
    await storage.tpcVote(txn);
    await blobs.prepare(btxn, tid);
    await storage.tpcFinish(txn);
    await blobs.commit(btxn);
    return { tid, refs };
  } catch (e) {
    await blobs.rollback(btxn);
    await storage.tpcAbort(txn);
    throw e;
  }
}

/** Reads a Database blob handle from its position to the end. */
export async function readHandle(handle: BlobHandle): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = await handle.read(64 * 1024);
    if (chunk.length === 0) break;
    parts.push(chunk);
    total += chunk.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** UTF-8 text of a handle's contents from its position. */
export async function readHandleText(handle: BlobHandle): Promise<string> {
  return new TextDecoder().decode(await readHandle(handle));
}
