/**
 * Encodes one commit's transaction in place while it is built (FORMAT.md, "Transaction"): the
 * header and metadata at tpcBegin, each data record with its checksum at store, the counts and the
 * transaction checksum at vote. The position of the transaction is fixed at tpcBegin (the commit
 * lock is held until tpcFinish), so every record's bytes are final when it is stored.
 */
import { InvalidArgumentError, type OidKey } from '@handlerton/framework';
import {
  RECORD_FLAG_DELETE,
  RECORD_HEADER_SIZE,
  RECORD_TRAILER_SIZE,
  TXN_FLAG_SYNCED_BEFORE,
  TXN_FLAGS_AT,
  TXN_HEADER_SIZE,
  TXN_MAGIC,
  TXN_TRAILER_SIZE,
} from './constants.js';
import { crc32 } from './crc.js';
import type { MetaBytes } from './txn-format.js';

const TWO_32 = 0x100000000;
/** Largest encoded transaction (its length is a u32). */
const MAX_TXN_SIZE = 0xffffffff;

/**
 * One stored write of a transaction. The same object is kept in the overlay of queued writes and
 * published to the active index (no per-record copies).
 */
export interface PendingWrite {
  readonly key: OidKey;
  readonly oid: bigint;
  readonly deleted: boolean;
  readonly tid: bigint;
  /** Absolute offset of its data record in the active segment. */
  off: number;
  /** Where its record starts in the builder's buffer, and its encoded size. */
  at: number;
  readonly size: number;
  /** The record's checksum. */
  readonly crc: number;
  /** True when a later store of the same oid in the same transaction replaced it. */
  dead: boolean;
}

/** Recycles transaction buffers between commits (one allocation per storage, not per commit). */
export class BufferPool {
  private readonly free: Buffer[] = [];

  /** A buffer of at least `size` bytes (contents undefined). */
  take(size: number): Buffer {
    const b = this.free.pop();
    return b && b.length >= size ? b : Buffer.allocUnsafe(Math.max(size, INITIAL_SIZE));
  }

  /** Gives a buffer back once nothing reads it any more. */
  give(b: Buffer): void {
    if (b.length <= MAX_POOLED && this.free.length < MAX_FREE) this.free.push(b);
  }
}

const INITIAL_SIZE = 64 * 1024;
const MAX_POOLED = 1024 * 1024;
const MAX_FREE = 64;

/** The bytes of one transaction being built at a fixed offset of the active segment. */
export class TxnBuilder {
  /** The records in buffer order (replaced ones marked `dead` until `finish`). */
  readonly records: PendingWrite[] = [];
  private buf: Buffer;
  private view: DataView;
  private used: number;
  private dead = 0;
  private readonly metaEnd: number;
  private readonly tidHi: number;
  private readonly tidLo: number;
  private readonly offHi: number;
  private readonly offLo: number;

  constructor(
    private readonly pool: BufferPool,
    readonly tid: bigint,
    status: number,
    meta: MetaBytes,
    /** Offset of the transaction's first byte in the active segment. */
    readonly txnOff: number,
  ) {
    this.metaEnd = TXN_HEADER_SIZE + meta.user.length + meta.description.length + meta.extension.length;
    this.buf = pool.take(this.metaEnd + 32 * 1024);
    this.view = viewOf(this.buf);
    const v = this.view;
    v.setUint32(0, TXN_MAGIC);
    v.setUint32(4, 0); // total length, at finish
    this.tidHi = Number(tid >> 32n);
    this.tidLo = Number(tid & 0xffffffffn);
    v.setUint32(8, this.tidHi);
    v.setUint32(12, this.tidLo);
    v.setUint8(16, status);
    v.setUint8(TXN_FLAGS_AT, 0); // flags: TXN_FLAG_SYNCED_BEFORE is set when the batch is written
    v.setUint16(18, meta.user.length);
    v.setUint16(20, meta.description.length);
    v.setUint32(22, meta.extension.length);
    v.setUint32(26, 0); // record count, at finish
    let at = TXN_HEADER_SIZE;
    this.buf.set(meta.user, at);
    at += meta.user.length;
    this.buf.set(meta.description, at);
    at += meta.description.length;
    this.buf.set(meta.extension, at);
    this.used = this.metaEnd;
    this.offHi = Math.floor(txnOff / TWO_32);
    this.offLo = txnOff >>> 0;
  }

  /** Encodes a data record (`prev`: offset of the oid's previous revision in this segment, or 0). */
  add(key: OidKey, oid: bigint, deleted: boolean, refs: Uint8Array, data: Uint8Array, prev: number): PendingWrite {
    const size = RECORD_HEADER_SIZE + refs.length + data.length + RECORD_TRAILER_SIZE;
    const at = this.used;
    if (at + size + TXN_TRAILER_SIZE > MAX_TXN_SIZE) {
      throw new InvalidArgumentError(`transaction exceeds the ${MAX_TXN_SIZE}-byte limit`);
    }
    if (at + size + TXN_TRAILER_SIZE > this.buf.length) this.grow(at + size + TXN_TRAILER_SIZE);
    const v = this.view;
    if (typeof key === 'number') {
      v.setUint32(at, Math.floor(key / TWO_32));
      v.setUint32(at + 4, key >>> 0);
    } else {
      v.setUint32(at, Number(key >> 32n));
      v.setUint32(at + 4, Number(key & 0xffffffffn));
    }
    v.setUint32(at + 8, this.tidHi);
    v.setUint32(at + 12, this.tidLo);
    v.setUint32(at + 16, Math.floor(prev / TWO_32));
    v.setUint32(at + 20, prev >>> 0);
    v.setUint32(at + 24, this.offHi);
    v.setUint32(at + 28, this.offLo);
    v.setUint8(at + 32, deleted ? RECORD_FLAG_DELETE : 0);
    v.setUint32(at + 33, refs.length);
    v.setUint32(at + 37, data.length);
    let p = at + RECORD_HEADER_SIZE;
    if (refs.length > 0) this.buf.set(refs, p);
    p += refs.length;
    if (data.length > 0) this.buf.set(data, p);
    p += data.length;
    const crc = crc32(this.buf.subarray(at, p));
    v.setUint32(p, crc);
    this.used = p + RECORD_TRAILER_SIZE;
    const w: PendingWrite = { key, oid, deleted, tid: this.tid, off: this.txnOff + at, at, size, crc, dead: false };
    this.records.push(w);
    return w;
  }

  /** Marks `w` as replaced by a later store of the same oid (dropped at `finish`). */
  replace(w: PendingWrite): void {
    w.dead = true;
    this.dead++;
  }

  /**
   * Completes the transaction: drops replaced records, writes the record count, length and
   * checksum. Returns the encoded bytes (a view of the builder's buffer; see `buffer`).
   */
  finish(): Buffer {
    if (this.dead > 0) this.compact();
    const records = this.records;
    const total = this.used + TXN_TRAILER_SIZE;
    const v = this.view;
    v.setUint32(4, total);
    v.setUint32(26, records.length);
    this.writeCrc();
    v.setUint32(this.used + 4, total);
    return this.buf.subarray(0, total);
  }

  /**
   * Sets TXN_FLAG_SYNCED_BEFORE in a finished transaction and rewrites its checksum (the flag is
   * covered by it); the bytes `finish` returned change in place. Costs one checksum of the header
   * and metadata plus 4 bytes per record.
   */
  markSyncedBefore(): void {
    this.view.setUint8(TXN_FLAGS_AT, this.view.getUint8(TXN_FLAGS_AT) | TXN_FLAG_SYNCED_BEFORE);
    this.writeCrc();
  }

  /** Writes the transaction checksum after the records (FORMAT.md §3). */
  private writeCrc(): void {
    const records = this.records;
    const headCrc = crc32(this.buf.subarray(0, this.metaEnd));
    let crc = headCrc;
    if (records.length > 0) {
      // the transaction checksum continues over the records' checksums (FORMAT.md)
      const scratch = crcScratch(records.length);
      for (let i = 0; i < records.length; i++) scratch.writeUInt32BE(records[i]!.crc, i * 4);
      crc = crc32(scratch.subarray(0, records.length * 4), headCrc);
    }
    this.view.setUint32(this.used, crc);
  }

  /** The whole backing buffer (to give back to the pool once the bytes are written). */
  get buffer(): Buffer {
    return this.buf;
  }

  /** Gives the backing buffer back to the pool (abort, or after the bytes were written). */
  release(): void {
    this.pool.give(this.buf);
  }

  private grow(needed: number): void {
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.used);
    this.pool.give(this.buf);
    this.buf = grown;
    this.view = viewOf(grown);
  }

  private compact(): void {
    const live: PendingWrite[] = [];
    let to = this.metaEnd;
    for (const w of this.records) {
      if (w.dead) continue;
      if (w.at !== to) this.buf.copyWithin(to, w.at, w.at + w.size);
      w.at = to;
      w.off = this.txnOff + to;
      to += w.size;
      live.push(w);
    }
    this.records.length = 0;
    for (const w of live) this.records.push(w);
    this.used = to;
    this.dead = 0;
  }
}

function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

let crcBuf = Buffer.allocUnsafe(4096);

function crcScratch(n: number): Buffer {
  if (n * 4 > crcBuf.length) crcBuf = Buffer.allocUnsafe(Math.max(n * 4, crcBuf.length * 2));
  return crcBuf;
}
