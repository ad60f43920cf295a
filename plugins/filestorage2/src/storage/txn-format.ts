/** Checked decoding of transaction records and data records (FORMAT.md, "Transaction"); commits encode in txn-builder.ts. */
import { CorruptionError } from '@handlerton/framework';
import {
  RECORD_FLAG_DELETE,
  RECORD_HEADER_SIZE,
  RECORD_TRAILER_SIZE,
  TXN_HEADER_SIZE,
  TXN_MAGIC,
  TXN_TRAILER_SIZE,
} from './constants.js';
import { crc32 } from './crc.js';

/** Transaction metadata as stored bytes. */
export interface MetaBytes {
  readonly user: Buffer;
  readonly description: Buffer;
  readonly extension: Buffer;
}

/** A decoded data record. */
export interface ParsedRecord {
  readonly oid: bigint;
  /** High and low 32-bit halves of the oid (BigInt-free comparisons). */
  readonly oidHi: number;
  readonly oidLo: number;
  readonly tid: bigint;
  readonly prev: number;
  readonly txnOff: number;
  readonly deleted: boolean;
  readonly refs: Buffer;
  readonly data: Buffer;
  /** Absolute offset of the record in its segment. */
  readonly offset: number;
  /** Encoded size of the record. */
  readonly size: number;
}

/** A decoded transaction. */
export interface ParsedTxn {
  readonly tid: bigint;
  readonly status: number;
  readonly meta: MetaBytes;
  readonly records: ParsedRecord[];
  readonly offset: number;
  readonly size: number;
}

/**
 * Checks a whole transaction at `at` in `b`: magic, length bounds, trailing length, every record's
 * bounds and checksum, and the transaction checksum (over the header and metadata, chained over the
 * records' checksums). Returns its total length, or 0 when the bytes there are not a valid transaction.
 */
export function validTxnLength(b: Buffer, at: number): number {
  if (at + TXN_HEADER_SIZE + TXN_TRAILER_SIZE > b.length) return 0;
  if (b.readUInt32BE(at) !== TXN_MAGIC) return 0;
  const total = b.readUInt32BE(at + 4);
  if (total < TXN_HEADER_SIZE + TXN_TRAILER_SIZE || at + total > b.length) return 0;
  const end = at + total - TXN_TRAILER_SIZE;
  if (b.readUInt32BE(end + 4) !== total) return 0;
  const metaEnd = at + TXN_HEADER_SIZE + b.readUInt16BE(at + 18) + b.readUInt16BE(at + 20) + b.readUInt32BE(at + 22);
  if (metaEnd > end) return 0;
  const headCrc = crc32(b.subarray(at, metaEnd));
  let p = metaEnd;
  const count = b.readUInt32BE(at + 26);
  if (count > (end - metaEnd) / (RECORD_HEADER_SIZE + RECORD_TRAILER_SIZE)) return 0;
  const crcs = crcScratch(count);
  for (let i = 0; i < count; i++) {
    if (p + RECORD_HEADER_SIZE + RECORD_TRAILER_SIZE > end) return 0;
    const size = recordSizeFromHeader(b, p);
    if (p + size > end) return 0;
    const crcAt = p + size - RECORD_TRAILER_SIZE;
    const stored = b.readUInt32BE(crcAt);
    if (stored !== crc32(b.subarray(p, crcAt))) return 0;
    crcs.writeUInt32BE(stored, i * 4);
    p += size;
  }
  const crc = count === 0 ? headCrc : crc32(crcs.subarray(0, count * 4), headCrc);
  if (p !== end || b.readUInt32BE(end) !== crc) return 0;
  return total;
}

/** Decodes a transaction that `validTxnLength` accepted (record checksums already checked); CorruptionError on inner damage. */
export function parseTxn(b: Buffer, at: number, fileOffset: number, file: string, withPayload = true): ParsedTxn {
  const total = b.readUInt32BE(at + 4);
  const end = at + total - TXN_TRAILER_SIZE;
  const tid = b.readBigUInt64BE(at + 8);
  const status = b.readUInt8(at + 16);
  const userLen = b.readUInt16BE(at + 18);
  const descLen = b.readUInt16BE(at + 20);
  const extLen = b.readUInt32BE(at + 22);
  const count = b.readUInt32BE(at + 26);
  let p = at + TXN_HEADER_SIZE;
  if (p + userLen + descLen + extLen > end) throw new CorruptionError('transaction metadata overruns its record', file, fileOffset);
  const meta: MetaBytes = {
    user: b.subarray(p, p + userLen),
    description: b.subarray(p + userLen, p + userLen + descLen),
    extension: b.subarray(p + userLen + descLen, p + userLen + descLen + extLen),
  };
  p += userLen + descLen + extLen;
  const records: ParsedRecord[] = [];
  for (let i = 0; i < count; i++) {
    const rec = parseRecord(b, p, fileOffset + (p - at), file, end, withPayload, false);
    if (rec.tid !== tid || rec.txnOff !== fileOffset) {
      throw new CorruptionError('data record does not belong to its transaction', file, fileOffset + (p - at));
    }
    records.push(rec);
    p += rec.size;
  }
  if (p !== end) throw new CorruptionError('transaction length does not match its records', file, fileOffset);
  return { tid, status, meta, records, offset: fileOffset, size: total };
}

/** Decodes and checks the data record at `at` in `b` (absolute offset `offset`); CorruptionError when damaged. */
export function parseRecord(
  b: Buffer,
  at: number,
  offset: number,
  file: string,
  limit = b.length,
  withPayload = true,
  verify = true,
): ParsedRecord {
  if (at + RECORD_HEADER_SIZE + RECORD_TRAILER_SIZE > limit) throw new CorruptionError('data record truncated', file, offset);
  const refsLen = b.readUInt32BE(at + 33);
  const dataLen = b.readUInt32BE(at + 37);
  const size = RECORD_HEADER_SIZE + refsLen + dataLen + RECORD_TRAILER_SIZE;
  if (at + size > limit) throw new CorruptionError('data record overruns its transaction', file, offset);
  const crcAt = at + size - RECORD_TRAILER_SIZE;
  if (verify && b.readUInt32BE(crcAt) !== crc32(b.subarray(at, crcAt))) throw new CorruptionError('data record checksum mismatch', file, offset);
  const flags = b.readUInt8(at + 32);
  const payloadAt = at + RECORD_HEADER_SIZE;
  return {
    oid: b.readBigUInt64BE(at),
    oidHi: b.readUInt32BE(at),
    oidLo: b.readUInt32BE(at + 4),
    tid: b.readBigUInt64BE(at + 8),
    prev: readOffset(b, at + 16),
    txnOff: readOffset(b, at + 24),
    deleted: (flags & RECORD_FLAG_DELETE) !== 0,
    refs: withPayload ? b.subarray(payloadAt, payloadAt + refsLen) : EMPTY,
    data: withPayload ? b.subarray(payloadAt + refsLen, payloadAt + refsLen + dataLen) : EMPTY,
    offset,
    size,
  };
}

const EMPTY = Buffer.alloc(0);

/** The total size of a record from its header bytes (at least RECORD_HEADER_SIZE of them). */
export function recordSizeFromHeader(b: Buffer, at: number): number {
  return RECORD_HEADER_SIZE + b.readUInt32BE(at + 33) + b.readUInt32BE(at + 37) + RECORD_TRAILER_SIZE;
}

/** Writes a file offset (a safe integer) as a big-endian u64 without BigInt. */
export function writeOffset(b: Buffer, at: number, value: number): void {
  b.writeUInt32BE(Math.floor(value / 0x100000000), at);
  b.writeUInt32BE(value >>> 0, at + 4);
}

/** Reads a big-endian u64 file offset; values beyond 2^53 are corruption and read as NaN-free huge numbers. */
export function readOffset(b: Buffer, at: number): number {
  return b.readUInt32BE(at) * 0x100000000 + b.readUInt32BE(at + 4);
}

let crcBuf = Buffer.allocUnsafe(4096);

/** A scratch buffer for `n` record checksums (the transaction checksum covers them in one call). */
function crcScratch(n: number): Buffer {
  if (n * 4 > crcBuf.length) crcBuf = Buffer.allocUnsafe(Math.max(n * 4, crcBuf.length * 2));
  return crcBuf;
}
