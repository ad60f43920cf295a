/**
 * Defensive copies every engine makes (engine-author kit): a record handed in is checked and copied
 * (later changes to the caller's buffer change nothing stored), a record handed out is the caller's
 * own copy, references are frozen, transaction metadata is plain data.
 */
import { InvalidArgumentError } from '../contracts/errors.js';
import { assertU64 } from '../contracts/ids.js';
import { NO_REFS, type BlobRef, type RecordInput, type RecordRefs, type TransactionMeta } from '../contracts/records.js';

/** Checks `record` and returns a private copy (bytes copied, references validated and frozen). */
export function copyRecordIn(record: RecordInput, argument = 'record'): RecordInput {
  if (typeof record !== 'object' || record === null || !(record.data instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${argument} needs \`data\` as a Uint8Array`);
  }
  return { data: new Uint8Array(record.data), refs: copyRefs(record.refs ?? NO_REFS, argument) };
}

/** A caller's own copy of a stored record (the references are frozen and shared). */
export function copyRecordOut(record: RecordInput): RecordInput {
  return { data: new Uint8Array(record.data), refs: record.refs ?? NO_REFS };
}

/** Validates `refs` and returns a frozen copy. */
export function copyRefs(refs: RecordRefs, argument = 'record'): RecordRefs {
  if (refs === NO_REFS) return NO_REFS;
  if (typeof refs !== 'object' || refs === null || !Array.isArray(refs.oids) || !Array.isArray(refs.blobs)) {
    throw new InvalidArgumentError(`${argument}.refs needs \`oids\` and \`blobs\` arrays`);
  }
  if (refs.oids.length === 0 && refs.blobs.length === 0) return NO_REFS;
  const oids = refs.oids.map((oid, i) => {
    assertU64(oid, `${argument}.refs.oids[${i}]`);
    return oid;
  });
  const blobs = refs.blobs.map((blob: BlobRef, i): BlobRef => {
    if (typeof blob !== 'object' || blob === null || typeof blob.handlerton !== 'string') {
      throw new InvalidArgumentError(`${argument}.refs.blobs[${i}] needs a handlerton name`);
    }
    assertU64(blob.blobId, `${argument}.refs.blobs[${i}].blobId`);
    assertU64(blob.revision, `${argument}.refs.blobs[${i}].revision`);
    return Object.freeze({ handlerton: blob.handlerton, blobId: blob.blobId, revision: blob.revision });
  });
  return Object.freeze({ oids: Object.freeze(oids), blobs: Object.freeze(blobs) });
}

/** A frozen copy of transaction metadata; InvalidArgumentError when it is not plain data. */
export function copyMetaIn(meta: TransactionMeta): TransactionMeta {
  if (typeof meta?.user !== 'string' || typeof meta.description !== 'string') {
    throw new InvalidArgumentError('transaction meta needs string `user` and `description`');
  }
  let extension: Record<string, unknown>;
  try {
    extension = structuredClone(meta.extension ?? {}) as Record<string, unknown>;
  } catch (cause) {
    throw new InvalidArgumentError(`transaction meta.extension is not plain data: ${String(cause)}`);
  }
  return Object.freeze({ user: meta.user, description: meta.description, extension: Object.freeze(extension) });
}

/** The caller's own copy of stored metadata (the extension is cloned: callers may change theirs). */
export function copyMetaOut(meta: TransactionMeta): TransactionMeta {
  return { user: meta.user, description: meta.description, extension: structuredClone(meta.extension) as Record<string, unknown> };
}
