/** Blob helpers over the BlobHandlerton contract: streamed writes and reads, commits. */
import {
  blobTransaction,
  nextTid,
  type BlobDraft,
  type BlobHandlerton,
  type BlobId,
  type Tid,
} from '@handlerton/framework';
import { Readable } from 'node:stream';
import { MiB } from './io.js';

let lastTid: Tid = 0n;

/** A fresh tid, strictly increasing within this process. */
export function freshTid(): Tid {
  lastTid = nextTid(lastTid, Date.now());
  return lastTid;
}

/** The oid the bench's blobs belong to. */
export const BLOB_OID = 1n;

/** Creates a blob, streams `source` into its draft, commits it referenced once; returns id and revision. */
export async function writeBlob(
  blobs: BlobHandlerton,
  source: AsyncIterable<Uint8Array>,
): Promise<{ blobId: BlobId; revision: Tid; size: number }> {
  const blobId = await blobs.createBlob();
  const txn = blobTransaction('bench-write');
  try {
    const draft = await blobs.createDraft(txn, blobId, BLOB_OID, null);
    const size = await pump(source, draft);
    const revision = freshTid();
    await blobs.addReferences(txn, [{ handlerton: blobs.name, blobId, revision }]);
    await blobs.prepare(txn, revision);
    await blobs.commit(txn);
    return { blobId, revision, size };
  } catch (error) {
    await blobs.rollback(txn);
    throw error;
  }
}

async function pump(source: AsyncIterable<Uint8Array>, draft: BlobDraft): Promise<number> {
  let pos = 0;
  for await (const chunk of source) {
    await draft.write(chunk, pos);
    pos += chunk.length;
  }
  return pos;
}

/** Generates `size` bytes in 1 MiB chunks from a small pool of random buffers. */
export async function* generated(size: number, pool: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  let sent = 0;
  let i = 0;
  while (sent < size) {
    const chunk = pool[i % pool.length] as Uint8Array;
    const n = Math.min(chunk.length, size - sent);
    yield n === chunk.length ? chunk : chunk.subarray(0, n);
    sent += n;
    i += 1;
  }
}

/** A Readable over a committed revision, reading 1 MiB at a time (closes the reader at the end). */
export async function revisionStream(blobs: BlobHandlerton, blobId: BlobId, revision: Tid): Promise<Readable> {
  const reader = await blobs.openRevision(blobId, revision);
  async function* chunks(): AsyncGenerator<Buffer> {
    let pos = 0;
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(MiB);
        const n = await reader.read(buf, pos);
        if (n === 0) return;
        pos += n;
        yield n === MiB ? buf : buf.subarray(0, n);
      }
    } finally {
      await reader.close();
    }
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: MiB });
}

/** Applies an `r+`-style partial update: a draft based on `base` with `data` written at `position`. */
export async function partialUpdate(
  blobs: BlobHandlerton,
  blobId: BlobId,
  base: Tid,
  data: Uint8Array,
  position: number,
): Promise<Tid> {
  const txn = blobTransaction('bench-partial');
  try {
    const draft = await blobs.createDraft(txn, blobId, BLOB_OID, base);
    await draft.write(data, position);
    const revision = freshTid();
    await blobs.addReferences(txn, [{ handlerton: blobs.name, blobId, revision }]);
    await blobs.prepare(txn, revision);
    await blobs.commit(txn);
    return revision;
  } catch (error) {
    await blobs.rollback(txn);
    throw error;
  }
}
