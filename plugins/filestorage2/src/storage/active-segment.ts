/** The active segment: an append-only transaction log with its index in memory. */
import { join } from 'node:path';
import { CorruptionError, oidKey, type OidKey } from '@handlerton/framework';
import { ActiveIndex, type ActiveEntry } from './active-index.js';
import { SEGMENT_HEADER_SIZE, TXN_MAGIC } from './constants.js';
import type { FileIO } from './file-io.js';
import { segmentFileName } from './naming.js';
import { readRecordAt, readTxnAt, SequentialReader } from './record-io.js';
import { SegmentFile } from './segment-file.js';
import { encodeSegmentHeader, type SegmentHeader } from './segment-format.js';
import { parseTxn, validTxnLength, type ParsedRecord, type ParsedTxn } from './txn-format.js';

/** A published record position, as the commit pipeline applies it. */
export interface PublishedRecord {
  readonly key: OidKey;
  readonly oid: bigint;
  readonly off: number;
  readonly deleted: boolean;
}

const ZEROS = Buffer.alloc(1 << 20);

/** The one writable segment. */
export class ActiveSegment {
  /** oid -> newest published record in this segment. */
  readonly index = new ActiveIndex();
  /** End of the last published (durable and visible) transaction. */
  publishedEnd = SEGMENT_HEADER_SIZE;
  /** End of the bytes handed to write(2). */
  writtenEnd = SEGMENT_HEADER_SIZE;
  /** End of the positions handed out by votes. */
  reservedEnd = SEGMENT_HEADER_SIZE;
  /** End of the preallocated (zero-filled) region. */
  allocatedEnd = SEGMENT_HEADER_SIZE;
  /** End of the region zero-filled ahead of time (adopted from a preparation); 0 when none. */
  preparedEnd = 0;
  minTid = 0n;
  maxTid = 0n;
  maxOid = -1n;
  txnCount = 0;

  private constructor(
    private readonly io: FileIO,
    readonly file: SegmentFile,
    readonly header: SegmentHeader,
    private readonly preallocChunk: number,
  ) {}

  /** Creates a new empty active segment file: tmp, header, preallocation, fsync, rename, dir fsync. */
  static async create(io: FileIO, dir: string, seq: number, prevSeq: number, databaseId: bigint, preallocChunk: number): Promise<ActiveSegment> {
    const name = segmentFileName(seq, 0);
    const path = join(dir, name);
    const tmp = `${path}.tmp`;
    const header: SegmentHeader = { seq, gen: 0, coversLo: seq, prevSeq, databaseId, flags: 0, packTid: 0n };
    const fd = io.open(tmp, 'w+');
    try {
      io.writeAt(fd, encodeSegmentHeader(header), 0, tmp);
      const seg = new ActiveSegment(io, new SegmentFile(io, fd, path, name), header, preallocChunk);
      seg.preallocate(SEGMENT_HEADER_SIZE + 1);
      await io.fsync(fd, tmp);
      io.rename(tmp, path);
      await io.fsyncDir(dir);
      return seg;
    } catch (e) {
      io.closeQuietly(fd);
      io.unlink(tmp);
      throw e;
    }
  }

  /**
   * Publishes a prepared segment file (header written, zero-filled to `size` and fsynced at `tmp`):
   * rename to its final name, directory fsync. Its whole size is preallocated space.
   */
  static async adopt(io: FileIO, dir: string, fd: number, tmp: string, header: SegmentHeader, size: number, preallocChunk: number): Promise<ActiveSegment> {
    const name = segmentFileName(header.seq, 0);
    const path = join(dir, name);
    io.rename(tmp, path);
    await io.fsyncDir(dir);
    const seg = new ActiveSegment(io, new SegmentFile(io, fd, path, name), header, preallocChunk);
    seg.allocatedEnd = size;
    seg.preparedEnd = size;
    return seg;
  }

  /**
   * Opens an existing active segment and rebuilds its index by scanning it. A torn tail (nothing
   * valid after the first bad byte) is cut off and synced unless `readOnly`; a valid transaction
   * after a bad one is corruption.
   */
  static async recover(
    io: FileIO,
    file: SegmentFile,
    header: SegmentHeader,
    size: number,
    readOnly: boolean,
    preallocChunk: number,
    yieldEvery: () => Promise<void>,
  ): Promise<ActiveSegment> {
    const seg = new ActiveSegment(io, file, header, preallocChunk);
    const { fd, path } = file;
    const reader = new SequentialReader(io, fd, path, size);
    let pos = SEGMENT_HEADER_SIZE;
    let steps = 0;
    while (pos < size) {
      const head = reader.view(pos, 8);
      if (head.length < 8 || head.readUInt32BE(0) !== TXN_MAGIC) break;
      const total = head.readUInt32BE(4);
      if (total === 0 || pos + total > size) break;
      const whole = reader.view(pos, total);
      if (validTxnLength(whole, 0) !== total) break;
      const txn = parseTxn(whole, 0, pos, path, false);
      if (txn.tid <= seg.maxTid) throw new CorruptionError('transaction ids out of order', path, pos);
      seg.applyParsed(txn);
      pos += total;
      seg.publishedEnd = seg.writtenEnd = seg.reservedEnd = pos;
      if (++steps % 1024 === 0) await yieldEvery();
    }
    seg.allocatedEnd = size;
    if (pos < size && !isAllZero(io, fd, path, pos, size)) {
      // zeros are preallocated space; anything else is a torn tail, unless a valid transaction follows
      const later = findValidTxnAfter(io, fd, path, pos + 1, size);
      if (later >= 0) throw new CorruptionError(`damaged transaction followed by a valid one at offset ${later}`, path, pos);
      if (!readOnly) {
        io.truncate(fd, pos, path);
        await io.fsync(fd, path);
      }
      seg.allocatedEnd = pos;
    }
    return seg;
  }

  /** Applies a scanned transaction to the index and counters. */
  private applyParsed(txn: ParsedTxn): void {
    const ordinal = this.index.addTxn(txn.tid);
    for (const r of txn.records) {
      const key = oidKey(r.oid);
      const before = this.index.idOf(key);
      if (r.prev !== (before < 0 ? 0 : this.index.offOf(before))) {
        throw new CorruptionError('previous-revision pointer mismatch', this.file.path, r.offset);
      }
      this.index.put(key, r.offset, ordinal, r.deleted);
      if (r.oid > this.maxOid) this.maxOid = r.oid;
    }
    this.noteTxn(txn.tid);
  }

  private noteTxn(tid: bigint): void {
    if (this.txnCount === 0) this.minTid = tid;
    this.maxTid = tid;
    this.txnCount++;
  }

  /** Publishes a durable transaction: its records become visible in the index. */
  publish(tid: bigint, records: readonly PublishedRecord[], end: number): void {
    const ordinal = this.index.addTxn(tid);
    let maxOid = this.maxOid;
    for (const r of records) {
      this.index.put(r.key, r.off, ordinal, r.deleted);
      if (r.oid > maxOid) maxOid = r.oid;
    }
    this.maxOid = maxOid;
    this.noteTxn(tid);
    this.publishedEnd = end;
  }

  /**
   * Makes sure bytes up to `end` lie inside the file's preallocated size, extending it with
   * ftruncate in chunks: commits then write inside the file and their fdatasync has no size change
   * to journal (only one fdatasync per chunk does). The extension reads as zeros.
   */
  preallocate(end: number): void {
    if (end <= this.allocatedEnd) return;
    const chunk = this.preallocChunk;
    const target = Math.ceil(end / chunk) * chunk;
    this.io.truncate(this.file.fd, target, this.file.path);
    this.allocatedEnd = target;
  }

  /** The newest published entry of `oid`. */
  find(oid: bigint): ActiveEntry | undefined {
    return this.index.get(oidKey(oid));
  }

  /** Reads the data record at `off` (within the written region). */
  readRecord(off: number): ParsedRecord {
    return readRecordAt(this.io, this.file.fd, this.file.path, off, this.writtenEnd);
  }

  /** Reads the transaction at `off`. */
  readTxn(off: number): ParsedTxn {
    return readTxnAt(this.io, this.file.fd, this.file.path, off, this.writtenEnd);
  }
}

/** Offset of the first complete, checksum-valid transaction at or after `from`, or -1. */
function findValidTxnAfter(io: FileIO, fd: number, path: string, from: number, size: number): number {
  const magic = Buffer.alloc(4);
  magic.writeUInt32BE(TXN_MAGIC, 0);
  const chunk = Buffer.allocUnsafe(1 << 20);
  let base = from;
  while (base < size) {
    const n = io.readAt(fd, chunk, 0, Math.min(chunk.length, size - base), base, path);
    if (n === 0) break;
    let hit = chunk.subarray(0, n).indexOf(magic);
    while (hit >= 0) {
      const at = base + hit;
      if (checkTxnAt(io, fd, path, at, size)) return at;
      hit = chunk.subarray(0, n).indexOf(magic, hit + 1);
    }
    if (base + n >= size) break;
    base += n - 3;
  }
  return -1;
}

function checkTxnAt(io: FileIO, fd: number, path: string, at: number, size: number): boolean {
  const head = Buffer.allocUnsafe(8);
  if (io.readAt(fd, head, 0, 8, at, path) !== 8) return false;
  const total = head.readUInt32BE(4);
  if (total < 38 || at + total > size) return false;
  const whole = Buffer.allocUnsafe(total);
  if (io.readAt(fd, whole, 0, total, at, path) !== total) return false;
  return validTxnLength(whole, 0) === total;
}

function isAllZero(io: FileIO, fd: number, path: string, from: number, size: number): boolean {
  const chunk = Buffer.allocUnsafe(ZEROS.length);
  for (let at = from; at < size; ) {
    const n = io.readAt(fd, chunk, 0, Math.min(chunk.length, size - at), at, path);
    if (n === 0) return true;
    if (!chunk.subarray(0, n).equals(ZEROS.subarray(0, n))) return false;
    at += n;
  }
  return true;
}
