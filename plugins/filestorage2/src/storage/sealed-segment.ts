/** A sealed (immutable) segment: in memory only its footer, page CRCs, fences and bloom filter. */
import { CorruptionError } from '@handlerton/framework';
import { ENTRIES_PER_PAGE, FOOTER_SIZE, INDEX_ENTRY_SIZE, PAGE_SIZE, SEGMENT_HEADER_SIZE } from './constants.js';
import { bloomMayContain, oidHashes } from './bloom.js';
import { crc32 } from './crc.js';
import type { FileIO } from './file-io.js';
import { compareU64, readEntry, searchPageHiLo, type IndexEntry } from './index-entry.js';
import { PAGE_KEY_SPAN, type PageCache } from './page-cache.js';
import { readRecordAt, readTxnAt } from './record-io.js';
import { trailerLayout, tryDecodeFooter, type SegmentFooter, type SegmentHeader } from './segment-format.js';
import type { SegmentFile } from './segment-file.js';
import type { ParsedRecord, ParsedTxn } from './txn-format.js';

let nextUid = 1;

/** Reads the footer at the end of an open segment file; null when there is no valid one. */
export function readFooter(io: FileIO, fd: number, path: string, size: number): SegmentFooter | null {
  if (size < SEGMENT_HEADER_SIZE + FOOTER_SIZE) return null;
  const b = Buffer.allocUnsafe(FOOTER_SIZE);
  if (io.readAt(fd, b, 0, FOOTER_SIZE, size - FOOTER_SIZE, path) !== FOOTER_SIZE) return null;
  const footer = tryDecodeFooter(b);
  if (footer === null) return null;
  const layout = trailerLayout(footer.indexOff, footer.count, footer.bloomBits, INDEX_ENTRY_SIZE, PAGE_SIZE);
  if (layout.footerOff + FOOTER_SIZE !== size) return null;
  return footer;
}

/** One sealed segment of the chain. */
export class SealedSegment {
  /** Unique id within this process (page-cache keys). */
  readonly uid = nextUid++;
  private readonly pages: number;
  private readonly fenceAt: number;
  readonly fd: number;
  readonly path: string;

  private constructor(
    private readonly io: FileIO,
    readonly file: SegmentFile,
    readonly header: SegmentHeader,
    readonly footer: SegmentFooter,
    /** Page CRCs (u32 each) then fences (u64 each), big-endian, as read from the trailer. */
    private readonly meta: Buffer,
    private readonly bloom: Uint8Array,
    pages: number,
    private readonly cache: PageCache,
    readonly fileSize: number,
  ) {
    this.pages = pages;
    this.fenceAt = pages * 4;
    this.fd = file.fd;
    this.path = file.path;
  }

  /** Loads the trailer regions of an open sealed segment whose footer is `footer`. */
  static load(
    io: FileIO,
    file: SegmentFile,
    header: SegmentHeader,
    footer: SegmentFooter,
    size: number,
    cache: PageCache,
  ): SealedSegment {
    const { fd, path } = file;
    const layout = trailerLayout(footer.indexOff, footer.count, footer.bloomBits, INDEX_ENTRY_SIZE, PAGE_SIZE);
    if (footer.dataEnd < SEGMENT_HEADER_SIZE || footer.indexOff < footer.dataEnd || footer.indexOff % PAGE_SIZE !== 0) {
      throw new CorruptionError('footer offsets out of range', path, size - FOOTER_SIZE);
    }
    const metaLen = layout.footerOff - layout.pageCrcOff;
    const meta = Buffer.allocUnsafe(metaLen);
    if (io.readAt(fd, meta, 0, metaLen, layout.pageCrcOff, path) !== metaLen || crc32(meta) !== footer.metaCrc) {
      throw new CorruptionError('index trailer checksum mismatch', path, layout.pageCrcOff);
    }
    const bloom = meta.subarray(layout.pages * 12);
    return new SealedSegment(io, file, header, footer, meta, bloom, layout.pages, cache, size);
  }

  /** The segment's sequence number. */
  get seq(): number {
    return this.header.seq;
  }

  /** Number of index pages. */
  get pageCount(): number {
    return this.pages;
  }

  /** Index entries in page `p`. */
  entriesInPage(p: number): number {
    return Math.min(ENTRIES_PER_PAGE, this.footer.count - p * ENTRIES_PER_PAGE);
  }

  /**
   * Reads (and checks) index page `p`. Cached pages are views into the shared cache, valid until the
   * next page read; with `bypassCache` the page is a fresh buffer owned by the caller.
   */
  page(p: number, bypassCache = false): Buffer {
    const len = this.entriesInPage(p) * INDEX_ENTRY_SIZE;
    const off = this.footer.indexOff + p * PAGE_SIZE;
    if (bypassCache) {
      const b = Buffer.allocUnsafe(len);
      this.readPage(b, p, off);
      return b;
    }
    const key = this.uid * PAGE_KEY_SPAN + p;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const { slot, bytes } = this.cache.reserve(len);
    try {
      this.readPage(bytes, p, off);
    } catch (e) {
      this.cache.abandon(slot);
      throw e;
    }
    this.cache.commit(key, slot, len);
    return bytes;
  }

  private readPage(b: Buffer, p: number, off: number): void {
    if (this.io.readAt(this.fd, b, 0, b.length, off, this.path) !== b.length || crc32(b) !== this.meta.readUInt32BE(p * 4)) {
      throw new CorruptionError('index page checksum mismatch', this.path, off);
    }
  }

  /** The index entry of `oid` in this segment, or null (bloom, fence search, one page read). */
  find(oid: bigint, hash: readonly [number, number, number, number] = oidHashes(oid)): IndexEntry | null {
    if (this.pages === 0) return null;
    if (!bloomMayContain(this.bloom, this.footer.bloomBits, this.footer.bloomK, hash)) return null;
    const meta = this.meta;
    const at = this.fenceAt;
    const oidHi = hash[2];
    const oidLo = hash[3];
    if (compareU64(meta, at, oidHi, oidLo) > 0) return null;
    let lo = 0;
    let hi = this.pages - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (compareU64(meta, at + mid * 8, oidHi, oidLo) <= 0) lo = mid;
      else hi = mid - 1;
    }
    const page = this.page(lo);
    const i = searchPageHiLo(page, this.entriesInPage(lo), oidHi, oidLo);
    return i < 0 ? null : readEntry(page, i * INDEX_ENTRY_SIZE);
  }

  /** Reads the data record at `off`. */
  readRecord(off: number): ParsedRecord {
    if (off < SEGMENT_HEADER_SIZE || off >= this.footer.dataEnd) throw new CorruptionError('record pointer out of range', this.path, off);
    return readRecordAt(this.io, this.fd, this.path, off, this.footer.dataEnd);
  }

  /** Reads the transaction at `off`. */
  readTxn(off: number): ParsedTxn {
    return readTxnAt(this.io, this.fd, this.path, off, this.footer.dataEnd);
  }

  /** Forgets this segment's cached pages (after it was replaced). */
  dropCache(): void {
    this.cache.dropSegment(this.uid);
  }
}
