/** Positioned reads of single records and transactions, and sequential transaction scans. */
import { CorruptionError } from '@handlerton/framework';
import { RECORD_HEADER_SIZE, RECORD_TRAILER_SIZE, TXN_HEADER_SIZE, TXN_TRAILER_SIZE } from './constants.js';
import type { FileIO } from './file-io.js';
import { parseRecord, parseTxn, recordSizeFromHeader, validTxnLength, type ParsedRecord, type ParsedTxn } from './txn-format.js';

const FIRST_READ = 1024;
let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Reads and checks the data record at `off` (ending before `limit`). The record's `refs` and `data`
 * are views into a shared scratch buffer, valid until the next record read: copy what you keep.
 */
export function readRecordAt(io: FileIO, fd: number, path: string, off: number, limit: number): ParsedRecord {
  const want = Math.min(FIRST_READ, limit - off);
  if (want < RECORD_HEADER_SIZE + RECORD_TRAILER_SIZE) throw new CorruptionError('record pointer out of range', path, off);
  let b = scratch;
  if (io.readAt(fd, b, 0, want, off, path) !== want) throw new CorruptionError('record truncated', path, off);
  const size = recordSizeFromHeader(b, 0);
  if (off + size > limit) throw new CorruptionError('record overruns its segment', path, off);
  if (size > want) {
    if (size > b.length) {
      b = Buffer.allocUnsafe(size);
      scratch.copy(b, 0, 0, want);
      if (size <= 16 * 1024 * 1024) scratch = b;
    }
    if (io.readAt(fd, b, want, size - want, off + want, path) !== size - want) throw new CorruptionError('record truncated', path, off);
  }
  return parseRecord(b, 0, off, path, size);
}

/** Reads and checks the whole transaction at `off` (ending before `limit`). */
export function readTxnAt(io: FileIO, fd: number, path: string, off: number, limit: number): ParsedTxn {
  const head = Buffer.allocUnsafe(8);
  if (off + TXN_HEADER_SIZE + TXN_TRAILER_SIZE > limit || io.readAt(fd, head, 0, 8, off, path) !== 8) {
    throw new CorruptionError('transaction pointer out of range', path, off);
  }
  const total = head.readUInt32BE(4);
  if (total < TXN_HEADER_SIZE + TXN_TRAILER_SIZE || off + total > limit) throw new CorruptionError('bad transaction length', path, off);
  const b = Buffer.allocUnsafe(total);
  if (io.readAt(fd, b, 0, total, off, path) !== total || validTxnLength(b, 0) !== total) {
    throw new CorruptionError('transaction checksum mismatch', path, off);
  }
  return parseTxn(b, 0, off, path);
}

/** Buffered forward reader over a byte range of one file. */
export class SequentialReader {
  private buf: Buffer;
  private bufStart = 0;
  private bufLen = 0;

  constructor(
    private readonly io: FileIO,
    private readonly fd: number,
    private readonly path: string,
    private readonly end: number,
    chunk = 1 << 20,
  ) {
    this.buf = Buffer.allocUnsafe(chunk);
  }

  /** Bytes [pos, pos+len) as a view valid until the next call; shorter when the range ends first. */
  view(pos: number, len: number): Buffer {
    const stop = Math.min(pos + len, this.end);
    if (pos >= this.bufStart && stop <= this.bufStart + this.bufLen) {
      return this.buf.subarray(pos - this.bufStart, stop - this.bufStart);
    }
    if (stop - pos > this.buf.length) this.buf = Buffer.allocUnsafe(stop - pos);
    const want = Math.min(this.buf.length, this.end - pos);
    this.bufLen = this.io.readAt(this.fd, this.buf, 0, want, pos, this.path);
    this.bufStart = pos;
    return this.buf.subarray(0, Math.min(stop - pos, this.bufLen));
  }
}

/**
 * Yields every transaction in [start, end) of a region that must be intact (sealed data, or the
 * published part of the active segment). Views are valid until the next step; CorruptionError on damage.
 */
export function* scanTxns(io: FileIO, fd: number, path: string, start: number, end: number, withPayload = true): Generator<ParsedTxn> {
  for (const { view, pos } of scanTxnFrames(io, fd, path, start, end)) yield parseTxn(view, 0, pos, path, withPayload);
}

/**
 * Yields every transaction of an intact region as a checked byte view (valid until the next step),
 * without decoding it; CorruptionError on damage.
 */
export function* scanTxnFrames(io: FileIO, fd: number, path: string, start: number, end: number): Generator<{ view: Buffer; pos: number }> {
  const reader = new SequentialReader(io, fd, path, end);
  let pos = start;
  while (pos < end) {
    const head = reader.view(pos, 8);
    if (head.length < 8) throw new CorruptionError('transaction truncated', path, pos);
    const total = head.readUInt32BE(4);
    const whole = reader.view(pos, total);
    if (total === 0 || whole.length !== total || validTxnLength(whole, 0) !== total) {
      throw new CorruptionError('transaction checksum mismatch', path, pos);
    }
    yield { view: whole, pos };
    pos += total;
  }
}
