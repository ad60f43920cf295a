/**
 * Defensive copies for the memory engine: what goes in is copied and frozen, what comes out is
 * copied again, so no caller can reach the stored bytes.
 */
import { assertU64, InvalidArgumentError, NO_REFS } from '@handlerton/framework';
import type { BlobRef, RecordInput, RecordRefs, TransactionMeta } from '@handlerton/framework';

/** Copies and freezes a record a caller hands in; InvalidArgumentError when it is malformed. */
export function copyRecordIn(record: RecordInput): RecordInput {
  if (typeof record !== 'object' || record === null || !(record.data instanceof Uint8Array)) {
    throw new InvalidArgumentError('a record needs `data` as a Uint8Array');
  }
  return Object.freeze({ data: Uint8Array.from(record.data), refs: copyRefs(record.refs ?? NO_REFS) });
}

/** A caller's private copy of a stored record. */
export function copyRecordOut(record: RecordInput): RecordInput {
  return { data: Uint8Array.from(record.data), refs: record.refs };
}

/** Copies and freezes refs (they are handed out as they are, so they must be immutable). */
function copyRefs(refs: RecordRefs): RecordRefs {
  if (!Array.isArray(refs.oids) || !Array.isArray(refs.blobs)) {
    throw new InvalidArgumentError('record refs need `oids` and `blobs` arrays');
  }
  const oids = refs.oids.map((oid) => {
    assertU64(oid, 'a referenced oid');
    return oid;
  });
  const blobs = refs.blobs.map((blob: BlobRef): BlobRef => {
    if (typeof blob.handlerton !== 'string') throw new InvalidArgumentError('a blob ref needs a handlerton name');
    assertU64(blob.blobId, 'a blob ref blobId');
    assertU64(blob.revision, 'a blob ref revision');
    return Object.freeze({ handlerton: blob.handlerton, blobId: blob.blobId, revision: blob.revision });
  });
  return Object.freeze({ oids: Object.freeze(oids), blobs: Object.freeze(blobs) });
}

/** Copies transaction metadata (in or out); InvalidArgumentError when it is not plain data. */
export function copyMeta(meta: TransactionMeta): TransactionMeta {
  if (typeof meta?.user !== 'string' || typeof meta.description !== 'string') {
    throw new InvalidArgumentError('transaction meta needs string `user` and `description`');
  }
  let extension: Record<string, unknown>;
  try {
    extension = structuredClone(meta.extension ?? {}) as Record<string, unknown>;
  } catch (cause) {
    throw new InvalidArgumentError(`transaction extension is not plain data: ${String(cause)}`);
  }
  return Object.freeze({ user: meta.user, description: meta.description, extension });
}
