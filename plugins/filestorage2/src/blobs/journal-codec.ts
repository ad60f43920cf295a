/**
 * The refcount journal's records and their binary form.
 *
 * File: an 8-byte magic, then frames `[u32 LE payload length][u32 LE crc32(payload)][payload]`.
 * A payload starts with a type byte; integers are big-endian u64 (ids, tids, sizes) or u32 (counts).
 */
import { crc32 } from 'node:zlib';
import type { BlobId, Oid, Tid } from '@handlerton/framework';

/** The journal file's first bytes. */
export const JOURNAL_MAGIC = new TextEncoder().encode('HTBLJRN1');
/** Bytes of a frame header (length + crc). */
export const FRAME_HEADER = 8;
/** Upper bound of one payload: a longer length field is damage, not data. */
export const MAX_PAYLOAD = 256 * 1024 * 1024;

/** One blob revision named in a journal record. */
export interface RevisionKey {
  readonly blobId: BlobId;
  readonly revision: Tid;
}

/** A draft made durable by a prepare. */
export interface PreparedDraft {
  readonly blobId: BlobId;
  readonly oid: Oid;
  readonly size: number;
}

/** Every record type of the journal. */
export type JournalRecord =
  /** Blob ids below `nextBlobId` may have been handed out. */
  | { readonly type: 'reserve'; readonly nextBlobId: BlobId }
  /** A transaction's drafts are durable in tmp/ and its reference additions are pinned. */
  | {
      readonly type: 'prepare';
      readonly txnSeq: bigint;
      readonly revision: Tid;
      readonly drafts: readonly PreparedDraft[];
      readonly refs: readonly RevisionKey[];
      /** An oid the storage transaction `revision` stored (decides a references-only prepare at recover). */
      readonly witness?: Oid;
    }
  /** A prepared transaction was published. */
  | { readonly type: 'commit'; readonly txnSeq: bigint }
  /** A prepared transaction was discarded. */
  | { readonly type: 'abort'; readonly txnSeq: bigint }
  /** Record references dropped (one per entry). */
  | { readonly type: 'release'; readonly refs: readonly RevisionKey[] }
  /** A revision with no reference was removed. */
  | { readonly type: 'delete'; readonly blobId: BlobId; readonly revision: Tid }
  /** Snapshot of a live revision (written by compaction). */
  | { readonly type: 'revision'; readonly blobId: BlobId; readonly revision: Tid; readonly size: number; readonly refs: number };

const TYPE_CODES = { reserve: 1, prepare: 2, commit: 3, abort: 4, release: 5, delete: 6, revision: 7, witnessedPrepare: 8 } as const;

class Writer {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  #at = FRAME_HEADER;

  constructor(payloadSize: number) {
    this.bytes = new Uint8Array(FRAME_HEADER + payloadSize);
    this.#view = new DataView(this.bytes.buffer);
  }
  u8(v: number): this {
    this.#view.setUint8(this.#at, v);
    this.#at += 1;
    return this;
  }
  u32(v: number): this {
    this.#view.setUint32(this.#at, v, false);
    this.#at += 4;
    return this;
  }
  u64(v: bigint | number): this {
    this.#view.setBigUint64(this.#at, BigInt(v), false);
    this.#at += 8;
    return this;
  }
  keys(list: readonly RevisionKey[]): this {
    this.u32(list.length);
    for (const k of list) this.u64(k.blobId).u64(k.revision);
    return this;
  }
  frame(): Uint8Array {
    const payload = this.bytes.subarray(FRAME_HEADER);
    this.#view.setUint32(0, payload.length, true);
    this.#view.setUint32(4, crc32(payload), true);
    return this.bytes;
  }
}

/** Encodes one record as a complete frame. */
export function encodeRecord(record: JournalRecord): Uint8Array {
  switch (record.type) {
    case 'reserve':
      return new Writer(9).u8(TYPE_CODES.reserve).u64(record.nextBlobId).frame();
    case 'prepare': {
      // With a witness: type 8, the same fields and the witness oid last.
      const witnessed = record.witness !== undefined;
      const w = new Writer(1 + 16 + 4 + 24 * record.drafts.length + 4 + 16 * record.refs.length + (witnessed ? 8 : 0))
        .u8(witnessed ? TYPE_CODES.witnessedPrepare : TYPE_CODES.prepare)
        .u64(record.txnSeq)
        .u64(record.revision)
        .u32(record.drafts.length);
      for (const d of record.drafts) w.u64(d.blobId).u64(d.oid).u64(d.size);
      w.keys(record.refs);
      if (record.witness !== undefined) w.u64(record.witness);
      return w.frame();
    }
    case 'commit':
      return new Writer(9).u8(TYPE_CODES.commit).u64(record.txnSeq).frame();
    case 'abort':
      return new Writer(9).u8(TYPE_CODES.abort).u64(record.txnSeq).frame();
    case 'release':
      return new Writer(1 + 4 + 16 * record.refs.length).u8(TYPE_CODES.release).keys(record.refs).frame();
    case 'delete':
      return new Writer(17).u8(TYPE_CODES.delete).u64(record.blobId).u64(record.revision).frame();
    case 'revision':
      return new Writer(29)
        .u8(TYPE_CODES.revision)
        .u64(record.blobId)
        .u64(record.revision)
        .u64(record.size)
        .u32(record.refs)
        .frame();
  }
}

/** Thrown by the decoder on a payload whose structure is wrong (the caller maps it to corruption). */
export class MalformedRecord extends Error {}

class Reader {
  readonly #view: DataView;
  #at = 0;

  constructor(payload: Uint8Array) {
    this.#view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  }
  #need(n: number): void {
    if (this.#at + n > this.#view.byteLength) throw new MalformedRecord('record too short');
  }
  u8(): number {
    this.#need(1);
    return this.#view.getUint8(this.#at++);
  }
  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#at, false);
    this.#at += 4;
    return v;
  }
  u64(): bigint {
    this.#need(8);
    const v = this.#view.getBigUint64(this.#at, false);
    this.#at += 8;
    return v;
  }
  size(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedRecord('size out of range');
    return Number(v);
  }
  keys(): RevisionKey[] {
    const n = this.u32();
    this.#need(n * 16);
    const out: RevisionKey[] = [];
    for (let i = 0; i < n; i++) out.push({ blobId: this.u64(), revision: this.u64() });
    return out;
  }
  end(): void {
    if (this.#at !== this.#view.byteLength) throw new MalformedRecord('trailing bytes in record');
  }
}

/** Decodes one payload (crc already checked). Throws MalformedRecord. */
export function decodeRecord(payload: Uint8Array): JournalRecord {
  const r = new Reader(payload);
  const type = r.u8();
  let record: JournalRecord;
  switch (type) {
    case TYPE_CODES.reserve:
      record = { type: 'reserve', nextBlobId: r.u64() };
      break;
    case TYPE_CODES.prepare:
    case TYPE_CODES.witnessedPrepare: {
      const txnSeq = r.u64();
      const revision = r.u64();
      const n = r.u32();
      const drafts: PreparedDraft[] = [];
      for (let i = 0; i < n; i++) drafts.push({ blobId: r.u64(), oid: r.u64(), size: r.size() });
      const refs = r.keys();
      record =
        type === TYPE_CODES.witnessedPrepare
          ? { type: 'prepare', txnSeq, revision, drafts, refs, witness: r.u64() }
          : { type: 'prepare', txnSeq, revision, drafts, refs };
      break;
    }
    case TYPE_CODES.commit:
      record = { type: 'commit', txnSeq: r.u64() };
      break;
    case TYPE_CODES.abort:
      record = { type: 'abort', txnSeq: r.u64() };
      break;
    case TYPE_CODES.release:
      record = { type: 'release', refs: r.keys() };
      break;
    case TYPE_CODES.delete:
      record = { type: 'delete', blobId: r.u64(), revision: r.u64() };
      break;
    case TYPE_CODES.revision:
      record = { type: 'revision', blobId: r.u64(), revision: r.u64(), size: r.size(), refs: r.u32() };
      break;
    default:
      throw new MalformedRecord(`unknown record type ${type}`);
  }
  r.end();
  return record;
}
