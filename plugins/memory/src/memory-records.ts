/**
 * Defensive copies for the memory engine: what goes in is copied and frozen, what comes out is
 * copied again, so no caller can reach the stored bytes.
 */
import { assertU64, ImmutableRecord, InvalidArgumentError, NO_REFS } from '@handlerton/framework';
import type { BlobRef, RecordInput, RecordRefs, TransactionMeta } from '@handlerton/framework';

/** Records up to this size are copied into a shared slab; larger ones get their own buffer. */
const SLAB_RECORD_MAX = 4096;
/** Size of one slab. */
const SLAB_SIZE = 256 * 1024;

/**
 * Copies small records' bytes into large shared buffers: one allocation per 256 KiB instead of one
 * per record, which keeps the garbage collector's work (and memory per record) low. A slab lives as
 * long as any record in it.
 */
export class RecordSlab {
  #slab: Buffer = Buffer.alloc(0);
  #used = 0;

  /** A private, stable copy of `data` (a view of a slab that never leaves the engine: reads copy out). */
  copy(data: Uint8Array): Uint8Array {
    const size = data.length;
    if (size > SLAB_RECORD_MAX) return new Uint8Array(data);
    if (this.#used + size > this.#slab.length) {
      // Not zero-filled: every byte handed out is written first, and no view of the slab leaves the engine.
      this.#slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      this.#used = 0;
    }
    const copy = new Uint8Array(this.#slab.buffer, this.#slab.byteOffset + this.#used, size);
    copy.set(data);
    this.#used += size;
    return copy;
  }
}

/** Copies and freezes a record a caller hands in (bytes into `slab`); InvalidArgumentError when it is malformed. */
export function copyRecordIn(record: RecordInput, slab?: RecordSlab): RecordInput {
  if (typeof record !== 'object' || record === null || !(record.data instanceof Uint8Array)) {
    throw new InvalidArgumentError('a record needs `data` as a Uint8Array');
  }
  // The framework's own write records never change: kept as they are, without a copy.
  if (record instanceof ImmutableRecord) {
    // Its references are handed out as they are: frozen, so that no reader can change them.
    if (record.refs !== NO_REFS) {
      Object.freeze(record.refs.oids);
      Object.freeze(record.refs.blobs);
      Object.freeze(record.refs);
    }
    return record;
  }
  const data = slab === undefined ? new Uint8Array(record.data) : slab.copy(record.data);
  return Object.freeze({ data, refs: copyRefs(record.refs ?? NO_REFS) });
}

/** A caller's private copy of a stored record. */
export function copyRecordOut(record: RecordInput): RecordInput {
  return { data: new Uint8Array(record.data), refs: record.refs };
}

/** Copies and freezes refs (they are handed out as they are, so they must be immutable). */
function copyRefs(refs: RecordRefs): RecordRefs {
  if (refs === NO_REFS) return NO_REFS;
  if (!Array.isArray(refs.oids) || !Array.isArray(refs.blobs)) {
    throw new InvalidArgumentError('record refs need `oids` and `blobs` arrays');
  }
  if (refs.oids.length === 0 && refs.blobs.length === 0) return NO_REFS;
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
  if (meta.extension === undefined || isEmptyPlainObject(meta.extension)) {
    return Object.freeze({ user: meta.user, description: meta.description, extension: EMPTY_EXTENSION });
  }
  let extension: Record<string, unknown>;
  try {
    extension = structuredClone(meta.extension ?? {}) as Record<string, unknown>;
  } catch (cause) {
    throw new InvalidArgumentError(`transaction extension is not plain data: ${String(cause)}`);
  }
  return Object.freeze({ user: meta.user, description: meta.description, extension });
}

/** The extension of every transaction that has none (frozen, shared). */
const EMPTY_EXTENSION: Readonly<Record<string, unknown>> = Object.freeze({});

function isEmptyPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const _ in value) return false;
  return Object.getOwnPropertySymbols(value).length === 0;
}
