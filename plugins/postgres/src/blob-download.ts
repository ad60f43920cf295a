/** Streaming a whole committed blob revision from PostgreSQL, for the local blob cache. */
import { POSKeyError, toHex } from '@handlerton/framework';
import type { BlobId, Tid } from '@handlerton/framework';
import type pg from 'pg';
import type { BlobStatements } from './blob-sql.js';
import { run } from './storage-sql.js';

/** The revision to download and its size (as `openRevision` found it). */
export interface RevisionToDownload {
  readonly blobId: BlobId;
  readonly revision: Tid;
  readonly size: number;
}

/**
 * Streams a committed revision, chunk by chunk in order, into `write`, in one read-only
 * repeatable-read transaction: a concurrent reclaim by another client cannot make chunks vanish
 * halfway (which would read as zeros). The next chunk's query is in flight while one is written,
 * so memory stays at two chunks. POSKeyError when the revision is gone or has another size.
 */
export async function downloadRevision(
  pool: pg.Pool,
  sql: BlobStatements,
  chunkSize: number,
  { blobId, revision, size }: RevisionToDownload,
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin isolation level repeatable read read only');
    const [row] = await run<{ size: bigint }>(client, sql.revision, [blobId, revision]);
    if (row === undefined || Number(row.size) !== size) throw new POSKeyError(`blob ${toHex(blobId)} has no revision ${toHex(revision)} of ${size} bytes`, blobId);
    const count = Math.ceil(size / chunkSize);
    const lengthOf = (index: number): number => Math.min(chunkSize, size - index * chunkSize);
    const fetch = (index: number): Promise<Buffer> => {
      const pending = run<{ data: Buffer }>(client, sql.readChunk, [blobId, revision, index, 1, lengthOf(index)]).then(([r]) => r?.data ?? Buffer.alloc(0));
      pending.catch(() => undefined);
      return pending;
    };
    let next = fetch(0);
    for (let index = 0; index < count; index++) {
      const bytes = await next;
      if (index + 1 < count) next = fetch(index + 1);
      const length = lengthOf(index);
      await write(bytes.subarray(0, length));
      // A chunk shorter than its place is a hole the server reads as zeros (as PgBlobs' reads do).
      if (bytes.length < length) await write(new Uint8Array(length - bytes.length));
    }
    await client.query('commit');
    client.release();
  } catch (error) {
    const broken = await client.query('rollback').then(() => false, () => true);
    client.release(broken);
    throw error;
  }
}
