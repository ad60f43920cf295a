/** Argument checks shared by the framework's wrappers; each throws InvalidArgumentError. */
import { InvalidArgumentError } from '../contracts/errors.js';
import { assertU64 } from '../contracts/ids.js';
import type { BlobRef, RecordInput, RecordRefs } from '../contracts/records.js';

/** Checks a RecordInput: bytes plus well-formed refs. */
export function assertRecordInput(record: unknown, what = 'record'): asserts record is RecordInput {
  if (typeof record !== 'object' || record === null) throw new InvalidArgumentError(`${what} must be an object with data and refs`);
  const { data, refs } = record as { data?: unknown; refs?: unknown };
  if (!(data instanceof Uint8Array)) throw new InvalidArgumentError(`${what}.data must be a Uint8Array`);
  assertRefs(refs, `${what}.refs`);
}

/** Checks a RecordRefs value. */
export function assertRefs(refs: unknown, what = 'refs'): asserts refs is RecordRefs {
  if (typeof refs !== 'object' || refs === null) throw new InvalidArgumentError(`${what} must be { oids, blobs }`);
  const { oids, blobs } = refs as { oids?: unknown; blobs?: unknown };
  if (!Array.isArray(oids)) throw new InvalidArgumentError(`${what}.oids must be an array of oids`);
  oids.forEach((oid, i) => assertU64(oid, `${what}.oids[${i}]`));
  if (!Array.isArray(blobs)) throw new InvalidArgumentError(`${what}.blobs must be an array of blob refs`);
  blobs.forEach((blob, i) => assertBlobRef(blob, `${what}.blobs[${i}]`));
}

/** Checks a BlobRef value. */
export function assertBlobRef(ref: unknown, what = 'blob ref'): asserts ref is BlobRef {
  if (typeof ref !== 'object' || ref === null) throw new InvalidArgumentError(`${what} must be { handlerton, blobId, revision }`);
  const { handlerton, blobId, revision } = ref as { handlerton?: unknown; blobId?: unknown; revision?: unknown };
  if (typeof handlerton !== 'string' || handlerton.length === 0) throw new InvalidArgumentError(`${what}.handlerton must be a non-empty string`);
  assertU64(blobId, `${what}.blobId`);
  assertU64(revision, `${what}.revision`);
}

/** Checks a non-negative safe integer (sizes, offsets, counts). */
export function assertNonNegativeInteger(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`${what} must be a non-negative integer, got ${String(value)}`);
  }
}
