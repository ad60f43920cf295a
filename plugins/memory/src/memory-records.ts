/**
 * Defensive copies for the memory engine: what goes in is copied (bytes into shared slabs) and its
 * references frozen, what comes out is copied again, so no caller can reach the stored bytes.
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
 * long as one of its records does.
 */
export class RecordSlab {
  #slab: Uint8Array = new Uint8Array(0);
  #used = 0;
  /** Where the last `put` placed its bytes in the array it returned. */
  offset = 0;

  /** Copies `data` and returns the array now holding it, at `offset` (a slab shared with other records; never handed out). */
  put(data: Uint8Array): Uint8Array {
    const size = data.length;
    if (size > SLAB_RECORD_MAX) {
      this.offset = 0;
      return new Uint8Array(data);
    }
    if (this.#used + size > this.#slab.length) {
      // Not zero-filled: every byte read out was written first. A plain Uint8Array (not a Buffer): `slice` copies.
      const fresh = Buffer.allocUnsafeSlow(SLAB_SIZE);
      this.#slab = new Uint8Array(fresh.buffer, fresh.byteOffset, SLAB_SIZE);
      this.#used = 0;
    }
    this.#slab.set(data, this.#used);
    this.offset = this.#used;
    this.#used += size;
    return this.#slab;
  }
}

/**
 * A stored record, flat (one object per revision, which is what the garbage collector counts): its
 * bytes are `len` bytes of `bytes` from `off`; `refs` null is a delete marker.
 */
export interface StoredRecord {
  readonly refs: RecordRefs | null;
  readonly bytes: Uint8Array;
  readonly off: number;
  readonly len: number;
}

/** Checks a record a caller hands in and returns the references to keep (frozen); InvalidArgumentError when it is malformed. */
export function checkRecordIn(record: RecordInput): RecordRefs {
  if (typeof record !== 'object' || record === null || !(record.data instanceof Uint8Array)) {
    throw new InvalidArgumentError('a record needs `data` as a Uint8Array');
  }
  // The framework's own write records never change: their references are kept as they are.
  if (record instanceof ImmutableRecord) {
    // Handed out as they are: frozen, so that no reader can change them.
    if (record.refs !== NO_REFS) {
      Object.freeze(record.refs.oids);
      Object.freeze(record.refs.blobs);
      Object.freeze(record.refs);
    }
    return record.refs;
  }
  return copyRefs(record.refs ?? NO_REFS);
}

/** A caller's private copy of a stored record (not a delete marker). */
export function recordOut(stored: StoredRecord & { readonly refs: RecordRefs }): RecordInput {
  return { data: stored.bytes.slice(stored.off, stored.off + stored.len), refs: stored.refs };
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
