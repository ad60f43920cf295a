/** The active segment: an append-only transaction log with its index in memory. */
import { join } from 'node:path';
import { CorruptionError, oidKey, type OidKey } from '@handlerton/framework';
import { SEGMENT_HEADER_SIZE, TXN_MAGIC } from './constants.js';
import type { FileIO } from './file-io.js';
import { segmentFileName } from './naming.js';
import { readRecordAt, readTxnAt, SequentialReader } from './record-io.js';
import { SegmentFile } from './segment-file.js';
import { encodeSegmentHeader, type SegmentHeader } from './segment-format.js';
import { parseTxn, validTxnLength, type ParsedRecord, type ParsedTxn } from './txn-format.js';

/** What the active index holds per oid. */
export interface ActiveEntry {
  off: number;
  tid: bigint;
  oldest: bigint;
  deleted: boolean;
}

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
  readonly index = new Map<OidKey, ActiveEntry>();
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
    const header: SegmentHeader = { seq, gen: 0, coversLo: seq, prevSeq, databaseId, flags: 0 };
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
    for (const r of txn.records) {
      const key = oidKey(r.oid);
      const before = this.index.get(key);
      if (r.prev !== (before?.off ?? 0)) throw new CorruptionError('previous-revision pointer mismatch', this.file.path, r.offset);
      this.setEntry(key, r.oid, r.offset, txn.tid, r.deleted, before);
    }
    this.noteTxn(txn.tid);
  }

  private setEntry(key: OidKey, oid: bigint, off: number, tid: bigint, deleted: boolean, before: ActiveEntry | undefined): void {
    if (before) {
      before.off = off;
      before.tid = tid;
      before.deleted = deleted;
    } else {
      this.index.set(key, { off, tid, oldest: tid, deleted });
    }
    if (oid > this.maxOid) this.maxOid = oid;
  }

  private noteTxn(tid: bigint): void {
    if (this.txnCount === 0) this.minTid = tid;
    this.maxTid = tid;
    this.txnCount++;
  }

  /** Publishes a durable transaction: its records become visible in the index. */
  publish(tid: bigint, records: readonly PublishedRecord[], end: number): void {
    for (const r of records) {
      this.setEntry(r.key, r.oid, r.off, tid, r.deleted, this.index.get(r.key));
    }
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

  /**
   * The index in increasing oid order, as parallel arrays: numeric keys with their entries, then the
   * few BigInt keys with theirs. Insertion order is usually already sorted (new oids are handed out
   * in increasing order), and then no lookup or sort is needed.
   */
  sortedIndex(): SortedIndex {
    const keys = new Float64Array(this.index.size);
    const entries: ActiveEntry[] = [];
    const largePairs: [bigint, ActiveEntry][] = [];
    let sorted = true;
    let last = -1;
    for (const [key, e] of this.index) {
      if (typeof key === 'number') {
        if (key <= last) sorted = false;
        last = key;
        keys[entries.length] = key;
        entries.push(e);
      } else {
        largePairs.push([key, e]);
      }
    }
    const small = keys.subarray(0, entries.length);
    if (!sorted) sortWithEntries(small, entries, this.index);
    largePairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { keys: small, entries, largeKeys: largePairs.map((p) => p[0]), largeEntries: largePairs.map((p) => p[1]) };
  }
}

const TWO_21 = 2 ** 21;

/**
 * Sorts `keys` and reorders `entries` with them. When keys fit in 32 bits and there are fewer than
 * 2^21 of them, each key and its position are packed into one exactly representable double
 * (key * 2^21 + position) and sorted natively; otherwise the keys are sorted and the entries looked
 * up again in `index`.
 */
function sortWithEntries(keys: Float64Array, entries: ActiveEntry[], index: Map<OidKey, ActiveEntry>): void {
  const n = keys.length;
  let max = 0;
  for (let i = 0; i < n; i++) if (keys[i]! > max) max = keys[i]!;
  if (n >= TWO_21 || max >= 2 ** 32) {
    keys.sort();
    for (let i = 0; i < n; i++) entries[i] = index.get(keys[i]!)!;
    return;
  }
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = keys[i]! * TWO_21 + i;
  packed.sort();
  const from = entries.slice();
  for (let i = 0; i < n; i++) {
    const v = packed[i]!;
    const at = v % TWO_21;
    keys[i] = (v - at) / TWO_21;
    entries[i] = from[at]!;
  }
}

/** The active index sorted by oid (see ActiveSegment.sortedIndex). */
export interface SortedIndex {
  readonly keys: Float64Array;
  readonly entries: readonly ActiveEntry[];
  readonly largeKeys: readonly bigint[];
  readonly largeEntries: readonly ActiveEntry[];
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
