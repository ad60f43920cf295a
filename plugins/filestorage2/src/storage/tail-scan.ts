/** What follows the first rejected byte of a scanned segment (FORMAT.md §9, steps 8–10). */
import { TXN_FLAG_SYNCED_BEFORE, TXN_FLAGS_AT, TXN_HEADER_SIZE, TXN_MAGIC, TXN_TRAILER_SIZE } from './constants.js';
import type { FileIO } from './file-io.js';
import { validTxnLength } from './txn-format.js';

/** The complete, checksum-valid transactions found after a damaged one. */
export interface LaterTxns {
  /** How many were found (0: the rest is a torn tail). */
  readonly count: number;
  /** Offset of the first one, or -1. */
  readonly first: number;
  /** Offset of the first one that carries TXN_FLAG_SYNCED_BEFORE, or -1. */
  readonly synced: number;
  /** End of the last one found (the damage's offset when none). */
  readonly end: number;
}

const READ_CHUNK = 1 << 20;
const ZEROS = Buffer.alloc(READ_CHUNK);
const MAGIC = Buffer.alloc(4);
MAGIC.writeUInt32BE(TXN_MAGIC, 0);

/**
 * Looks for valid transactions in `[from, size)` at every TXN2 magic (a hit inside another hit is
 * checked too: a false hit never hides a real one). Stops at the first one when `firstOnly`, else
 * at the first one with TXN_FLAG_SYNCED_BEFORE or at the end of the file.
 */
export function findLaterTxns(io: FileIO, fd: number, path: string, from: number, size: number, firstOnly: boolean): LaterTxns {
  const chunk = Buffer.allocUnsafe(READ_CHUNK);
  let count = 0;
  let first = -1;
  let end = from - 1;
  let base = from;
  while (base < size) {
    const want = Math.min(chunk.length, size - base);
    const n = io.readAt(fd, chunk, 0, want, base, path);
    if (n === 0) break;
    const view = chunk.subarray(0, n);
    for (let hit = view.indexOf(MAGIC); hit >= 0; hit = view.indexOf(MAGIC, hit + 1)) {
      const at = base + hit;
      const txn = readValidTxn(io, fd, path, at, size);
      if (!txn) continue;
      count++;
      if (first < 0) first = at;
      end = Math.max(end, at + txn.length);
      if (firstOnly) return { count, first, synced: -1, end };
      if ((txn[TXN_FLAGS_AT]! & TXN_FLAG_SYNCED_BEFORE) !== 0) return { count, first, synced: at, end };
    }
    // The end, or the file ended before `size` (a live writer's file read-only: it may shrink, e.g. at a
    // seal): stepping back 3 bytes from a short read would read the same bytes forever.
    if (base + n >= size || n < want) break;
    base += n - 3; // a magic may straddle two chunks
  }
  return { count, first, synced: -1, end: count > 0 ? end : from - 1 };
}

/** The bytes of a complete, checksum-valid transaction at `at`, or null. */
function readValidTxn(io: FileIO, fd: number, path: string, at: number, size: number): Buffer | null {
  const head = Buffer.allocUnsafe(8);
  if (io.readAt(fd, head, 0, 8, at, path) !== 8) return null;
  const total = head.readUInt32BE(4);
  if (total < TXN_HEADER_SIZE + TXN_TRAILER_SIZE || at + total > size) return null;
  const whole = Buffer.allocUnsafe(total);
  if (io.readAt(fd, whole, 0, total, at, path) !== total) return null;
  return validTxnLength(whole, 0) === total ? whole : null;
}

/** True when every byte of `[from, size)` is zero (preallocated space). */
export function isAllZero(io: FileIO, fd: number, path: string, from: number, size: number): boolean {
  const chunk = Buffer.allocUnsafe(READ_CHUNK);
  for (let at = from; at < size; ) {
    const n = io.readAt(fd, chunk, 0, Math.min(chunk.length, size - at), at, path);
    if (n === 0) return true;
    if (!chunk.subarray(0, n).equals(ZEROS.subarray(0, n))) return false;
    at += n;
  }
  return true;
}
