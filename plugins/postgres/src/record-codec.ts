/** Records in and out of rows: validation of what callers store, refs as the framework's binary form. */
import { assertU64, decodeRefs, encodeRefs, InvalidArgumentError, NO_REFS, toHex } from '@handlerton/framework';
import type { RecordInput, RecordRefs } from '@handlerton/framework';

/** The largest oid or tid a PostgreSQL bigint column holds. */
export const MAX_BIGINT = (1n << 63n) - 1n;
const EMPTY = Buffer.alloc(0);
const NO_REFS_BYTES = Buffer.from(encodeRefs(NO_REFS));

/** A row ready to insert: the data and the encoded refs. */
export interface EncodedRecord {
  readonly data: Buffer;
  readonly refs: Buffer;
}

/** Throws InvalidArgumentError unless `value` is a u64 that fits a bigint column. */
export function assertStorable(value: unknown, what: string): asserts value is bigint {
  assertU64(value, what);
  if (value > MAX_BIGINT) throw new InvalidArgumentError(`${what} ${toHex(value)} is larger than 2^63-1, the largest the postgres engine stores`);
}

/** Validates `record` and encodes it for a row (the data is copied: the caller may reuse its buffer). */
export function encodeRecord(record: RecordInput): EncodedRecord {
  if (typeof record !== 'object' || record === null || !(record.data instanceof Uint8Array)) {
    throw new InvalidArgumentError('a record needs `data` as a Uint8Array');
  }
  const refs: RecordRefs = record.refs ?? NO_REFS;
  if (typeof refs !== 'object' || refs === null || !Array.isArray(refs.oids) || !Array.isArray(refs.blobs)) {
    throw new InvalidArgumentError('record.refs must be { oids: Oid[], blobs: BlobRef[] }');
  }
  refs.oids.forEach((oid, i) => assertU64(oid, `record.refs.oids[${i}]`));
  refs.blobs.forEach((blob, i) => {
    if (typeof blob !== 'object' || blob === null || typeof blob.handlerton !== 'string' || blob.handlerton === '') {
      throw new InvalidArgumentError(`record.refs.blobs[${i}] must be a BlobRef with a handlerton name`);
    }
    assertU64(blob.blobId, `record.refs.blobs[${i}].blobId`);
    assertU64(blob.revision, `record.refs.blobs[${i}].revision`);
  });
  const encodedRefs = refs.oids.length === 0 && refs.blobs.length === 0 ? NO_REFS_BYTES : Buffer.from(encodeRefs(refs));
  return { data: Buffer.from(record.data), refs: encodedRefs };
}

/** The bytes of every delete marker row. */
export const DELETED: EncodedRecord = Object.freeze({ data: EMPTY, refs: NO_REFS_BYTES });

/** A stored row back as a RecordInput (a private copy for the caller). */
export function decodeRecord(data: Buffer, refs: Buffer): RecordInput {
  return { data: new Uint8Array(data), refs: refs.length === 8 && refs.every((b) => b === 0) ? NO_REFS : decodeRefs(refs) };
}
