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

/** Binary search for `oid` among `count` entries of page `b`; the entry index or -1. */
export function searchPage(b: Buffer, count: number, oid: bigint): number {
  let lo = 0;
  let hi = count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const key = b.readBigUInt64BE(mid * INDEX_ENTRY_SIZE);
    if (key === oid) return mid;
    if (key < oid) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
