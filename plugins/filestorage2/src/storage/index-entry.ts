/** The 32-byte index entry: oid, newest tid, oldest tid, 48-bit offset of the newest record, 16-bit flags. */
import { ENTRY_FLAG_DELETE, INDEX_ENTRY_SIZE } from './constants.js';

/** What an index says about one oid in one segment. */
export interface IndexEntry {
  readonly oid: bigint;
  /** Tid of the newest revision of the oid in the segment. */
  readonly tid: bigint;
  /** Tid of the oldest revision of the oid in the segment. */
  readonly oldest: bigint;
  /** Offset of the newest revision's data record. */
  readonly off: number;
  /** True when the newest revision is a delete marker. */
  readonly deleted: boolean;
}

/** Writes `e` at `at` in `b`. */
export function writeEntry(b: Buffer, at: number, e: IndexEntry): void {
  b.writeBigUInt64BE(e.oid, at);
  b.writeBigUInt64BE(e.tid, at + 8);
  b.writeBigUInt64BE(e.oldest, at + 16);
  b.writeUIntBE(e.off, at + 24, 6);
  b.writeUInt16BE(e.deleted ? ENTRY_FLAG_DELETE : 0, at + 30);
}

/** Reads the entry at `at` in `b`. */
export function readEntry(b: Buffer, at: number): IndexEntry {
  return {
    oid: b.readBigUInt64BE(at),
    tid: b.readBigUInt64BE(at + 8),
    oldest: b.readBigUInt64BE(at + 16),
    off: b.readUIntBE(at + 24, 6),
    deleted: (b.readUInt16BE(at + 30) & ENTRY_FLAG_DELETE) !== 0,
  };
}

/** Compares the u64 at `at` in `b` with the value hi * 2^32 + lo: -1, 0 or 1 (no BigInt). */
export function compareU64(b: Buffer, at: number, hi: number, lo: number): number {
  const h = b.readUInt32BE(at);
  if (h !== hi) return h < hi ? -1 : 1;
  const l = b.readUInt32BE(at + 4);
  return l === lo ? 0 : l < lo ? -1 : 1;
}

/** Binary search for the oid hi * 2^32 + lo among `count` entries of page `b`; the entry index or -1. */
export function searchPageHiLo(b: Buffer, count: number, hi: number, lo: number): number {
  let low = 0;
  let high = count - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const c = compareU64(b, mid * INDEX_ENTRY_SIZE, hi, lo);
    if (c === 0) return mid;
    if (c < 0) low = mid + 1;
    else high = mid - 1;
  }
  return -1;
}

/** The high and low 32-bit halves of a u64. */
export function splitU64(value: bigint): [number, number] {
  if (value <= MAX_SAFE) {
    const n = Number(value);
    return [Math.floor(n / 0x100000000), n >>> 0];
  }
  return [Number(value >> 32n), Number(value & 0xffffffffn)];
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
