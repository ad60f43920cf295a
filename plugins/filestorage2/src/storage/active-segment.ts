/** The active segment: an append-only transaction log with its index in memory. */
import { join } from 'node:path';
import { CorruptionError, oidKey, type OidKey } from '@handlerton/framework';
import { ActiveIndex, type ActiveEntry } from './active-index.js';
import { PAGE_SIZE, SEGMENT_FLAG_PREV_END, SEGMENT_FLAG_SYNC_MARKS, SEGMENT_HEADER_SIZE, TXN_MAGIC } from './constants.js';
import type { FileIO } from './file-io.js';
import { segmentFileName } from './naming.js';
import { readRecordAt, readTxnAt, SequentialReader } from './record-io.js';
import { SegmentFile } from './segment-file.js';
import { dataEndLow32, encodeSegmentHeader, type SegmentHeader } from './segment-format.js';
import { findLaterTxns, isAllZero } from './tail-scan.js';
import { parseTxn, validTxnLength, type ParsedRecord, type ParsedTxn } from './txn-format.js';

/** A published record position, as the commit pipeline applies it. */
export interface PublishedRecord {
  readonly key: OidKey;
  readonly oid: bigint;
  readonly off: number;
  readonly deleted: boolean;
}

/** A torn write batch cut off at open: valid transactions followed a damaged one (FORMAT.md §9). */
export interface CutBatch {
  /** Offset of the damaged transaction (the new end of the segment's data). */
  readonly offset: number;
  /** Bytes from there to the end of the last valid transaction cut. */
  readonly bytes: number;
  /** Valid transactions cut after the damaged one. */
  readonly transactions: number;
}

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
  /**
   * Every byte before this offset is known durable (an fdatasync that began after they were written
   * has completed): a batch written at exactly this offset records it (TXN_FLAG_SYNCED_BEFORE).
   */
  syncedEnd = SEGMENT_HEADER_SIZE;
  /** Set by `recover` when it cut a torn write batch (for the open's warning). */
  cutBatch: CutBatch | null = null;
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

  /**
   * Creates a new empty active segment file: tmp, header, preallocation, fsync, rename, dir fsync.
   * `prevDataEnd`: where segment `prevSeq`'s data ends when commits move on to this one (recorded in the header).
   */
  static async create(io: FileIO, dir: string, seq: number, prevSeq: number, databaseId: bigint, preallocChunk: number, prevDataEnd?: number): Promise<ActiveSegment> {
    const name = segmentFileName(seq, 0);
    const path = join(dir, name);
    const tmp = `${path}.tmp`;
    const header = withPrevDataEnd({ seq, gen: 0, coversLo: seq, prevSeq, databaseId, flags: SEGMENT_FLAG_SYNC_MARKS, packTid: 0n }, prevDataEnd);
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
   * records `prevDataEnd` in its header (fdatasync), renames it to its final name, fsyncs the
   * directory. Its whole size is preallocated space.
   */
  static async adopt(io: FileIO, dir: string, fd: number, tmp: string, prepared: SegmentHeader, size: number, preallocChunk: number, prevDataEnd: number): Promise<ActiveSegment> {
    const header = withPrevDataEnd(prepared, prevDataEnd);
    const name = segmentFileName(header.seq, 0);
    const path = join(dir, name);
    io.writeAt(fd, encodeSegmentHeader(header), 0, tmp);
    await io.fdatasync(fd, tmp);
    io.rename(tmp, path);
    await io.fsyncDir(dir);
    const seg = new ActiveSegment(io, new SegmentFile(io, fd, path, name), header, preallocChunk);
    seg.allocatedEnd = size;
    seg.preparedEnd = size;
    return seg;
  }

  /**
   * Opens an existing active segment and rebuilds its index by scanning it. A torn tail (nothing
   * valid after the first bad byte) is cut off and synced unless `readOnly`. A valid transaction
   * after a bad one is corruption, unless `tornBatches` is set, the segment records sync boundaries
   * and no later valid transaction says that the bad one was durable before it was written: then
   * the bad one lies in a write batch a crash tore, and it is cut off with everything after it.
   * Unless `readOnly`, the data kept is made durable (`syncedEnd`). `beingSealed`: the segment's seal
   * was interrupted (only its trailer may follow its data); `sealedEnd`, when the next segment's
   * header recorded it, is where its data ended (low 32 bits), and a scan that ends elsewhere is
   * corruption: transactions at its end were lost.
   */
  static async recover(
    io: FileIO,
    file: SegmentFile,
    header: SegmentHeader,
    size: number,
    readOnly: boolean,
    preallocChunk: number,
    yieldEvery: () => Promise<void>,
    tornBatches = false,
    beingSealed = false,
    sealedEnd?: number,
    /** Read-only, of a file a live writer is appending to: an incomplete transaction ends what is read, whatever follows. */
    liveTail = false,
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
    if (beingSealed) assertOnlyTrailerAfter(io, fd, path, pos, size, sealedEnd);
    let synced = false;
    if (pos < size && !isAllZero(io, fd, path, pos, size)) {
      // zeros are preallocated space; anything else is a torn tail, unless a valid transaction follows
      const marks = tornBatches && seg.marksSyncs;
      const later = liveTail && readOnly ? { count: 0, synced: -1, first: 0, end: pos } : findLaterTxns(io, fd, path, pos + 1, size, !marks);
      if (later.count > 0 && !marks) throw new CorruptionError(`damaged transaction followed by a valid one at offset ${later.first}`, path, pos);
      if (later.synced >= 0) {
        throw new CorruptionError(`damaged transaction followed by a valid one at offset ${later.synced} written after it was synced`, path, pos);
      }
      if (later.count > 0) seg.cutBatch = { offset: pos, bytes: later.end - pos, transactions: later.count };
      if (!readOnly) {
        io.truncate(fd, pos, path);
        await io.fsync(fd, path);
        synced = true;
      }
      seg.allocatedEnd = pos;
    }
    if (!readOnly) {
      // bytes a crashed process wrote may still be in the page cache only: the next batch may say
      // "synced before" only once they are durable
      if (!synced && pos > SEGMENT_HEADER_SIZE) await io.fdatasync(fd, path);
      seg.syncedEnd = pos;
    }
    return seg;
  }

  /** True when this segment's transactions record sync boundaries (segment header flag). */
  get marksSyncs(): boolean {
    return (this.header.flags & SEGMENT_FLAG_SYNC_MARKS) !== 0;
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

/** `header` with `prevDataEnd` recorded (flag SEGMENT_FLAG_PREV_END), or unchanged when it is undefined. */
function withPrevDataEnd(header: SegmentHeader, prevDataEnd: number | undefined): SegmentHeader {
  if (prevDataEnd === undefined) return header;
  return { ...header, flags: header.flags | SEGMENT_FLAG_PREV_END, prevDataEnd: dataEndLow32(prevDataEnd) };
}

/**
 * A segment whose seal was interrupted had all its transactions synced before the seal began, so
 * after the last valid transaction only the trailer can follow: zero padding up to the next page,
 * then index pages (or nothing, or preallocated zeros). A damaged or truncated transaction there is
 * corruption, never a torn tail to cut.
 */
function assertOnlyTrailerAfter(io: FileIO, fd: number, path: string, pos: number, size: number, sealedEnd: number | undefined): void {
  if (sealedEnd !== undefined && dataEndLow32(pos) !== sealedEnd) {
    throw new CorruptionError(
      `a segment whose seal was interrupted ends its transactions at offset ${pos}, but the next segment's header records its data ending at ${sealedEnd} (modulo 2^32): transactions at its end are missing`,
      path,
      pos,
    );
  }
  if (pos >= size) return;
  const padEnd = Math.min(size, Math.ceil(pos / PAGE_SIZE) * PAGE_SIZE);
  const head = Buffer.alloc(Math.min(4, size - pos));
  io.readAt(fd, head, 0, head.length, pos, path);
  const txnStarts = head.length === 4 && head.readUInt32BE(0) === TXN_MAGIC;
  if (txnStarts || !isAllZero(io, fd, path, pos, padEnd)) {
    throw new CorruptionError('damaged or truncated transaction in a segment whose seal was interrupted (its data was synced before the seal)', path, pos);
  }
}
