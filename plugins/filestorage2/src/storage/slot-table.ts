/** Pack's output index under construction: sorted slots in a temporary file, patched through a small page LRU. */
import { CorruptionError } from '@handlerton/framework';
import { ENTRIES_PER_PAGE, ENTRY_FLAG_DELETE, INDEX_ENTRY_SIZE, PAGE_SIZE } from './constants.js';
import type { FileIO } from './file-io.js';
import { compareU64, readEntry, searchPageHiLo, type IndexEntry } from './index-entry.js';

interface CachedPage {
  readonly bytes: Buffer;
  dirty: boolean;
}

/**
 * Sorted oid slots written once in order, then updated in place while records are copied. A slot is
 * an index entry; during the copy its `oldest` field holds the tid of the revision to keep at the
 * pack time until the first record lands, and `off` 0 means "no record yet".
 */
export class SlotTable {
  /** First oid of each page, as big-endian u64s. */
  private fences = Buffer.allocUnsafe(8 * 64);
  private pageCount = 0;
  private count = 0;
  private readonly fill = Buffer.alloc(PAGE_SIZE);
  private inFill = 0;
  private readonly pages = new Map<number, CachedPage>();
  private lastPage = -1;
  private last: CachedPage | null = null;

  constructor(
    private readonly io: FileIO,
    private readonly fd: number,
    private readonly path: string,
    private readonly capacity = 256,
  ) {}

  /** Number of slots. */
  get size(): number {
    return this.count;
  }

  /**
   * Appends the next slot for the oid stored at `at` in `src` (oids strictly increasing), with no
   * record yet and the revision to keep at the pack time given as hi * 2^32 + lo (0 = none).
   */
  appendSlot(src: Buffer, at: number, keepHi: number, keepLo: number): void {
    if (this.inFill === 0) {
      if ((this.pageCount + 1) * 8 > this.fences.length) {
        const grown = Buffer.allocUnsafe(this.fences.length * 2);
        this.fences.copy(grown);
        this.fences = grown;
      }
      src.copy(this.fences, this.pageCount * 8, at, at + 8);
      this.pageCount++;
    }
    const to = this.inFill * INDEX_ENTRY_SIZE;
    src.copy(this.fill, to, at, at + 8);
    this.fill.fill(0, to + 8, to + INDEX_ENTRY_SIZE);
    this.fill.writeUInt32BE(keepHi, to + 16);
    this.fill.writeUInt32BE(keepLo, to + 20);
    this.inFill++;
    this.count++;
    if (this.inFill === ENTRIES_PER_PAGE) this.flushFill();
  }

  /** Ends the append phase. */
  endAppend(): void {
    if (this.inFill > 0) this.flushFill();
  }

  private flushFill(): void {
    const page = this.pageCount - 1;
    this.io.writeAt(this.fd, this.fill.subarray(0, this.inFill * INDEX_ENTRY_SIZE), page * PAGE_SIZE, this.path);
    this.inFill = 0;
  }

  private entriesIn(p: number): number {
    return Math.min(ENTRIES_PER_PAGE, this.count - p * ENTRIES_PER_PAGE);
  }

  private page(p: number): CachedPage {
    if (p === this.lastPage) return this.last!;
    let page = this.pages.get(p);
    if (page) {
      this.pages.delete(p);
      this.pages.set(p, page);
    } else {
      const len = this.entriesIn(p) * INDEX_ENTRY_SIZE;
      const bytes = Buffer.allocUnsafe(len);
      if (this.io.readAt(this.fd, bytes, 0, len, p * PAGE_SIZE, this.path) !== len) {
        throw new CorruptionError('pack slot file truncated', this.path, p * PAGE_SIZE);
      }
      page = { bytes, dirty: false };
      this.pages.set(p, page);
      if (this.pages.size > this.capacity) {
        const [oldKey, old] = this.pages.entries().next().value as [number, CachedPage];
        this.pages.delete(oldKey);
        if (old.dirty) this.io.writeAt(this.fd, old.bytes, oldKey * PAGE_SIZE, this.path);
      }
    }
    this.lastPage = p;
    this.last = page;
    return page;
  }

  /** Position (page * 128 + index) of the slot of the oid hi * 2^32 + lo, or -1. */
  find(hi: number, lo: number): number {
    const n = this.pageCount;
    if (n === 0 || compareU64(this.fences, 0, hi, lo) > 0) return -1;
    const lp = this.lastPage;
    if (lp >= 0 && compareU64(this.fences, lp * 8, hi, lo) <= 0 && (lp === n - 1 || compareU64(this.fences, (lp + 1) * 8, hi, lo) > 0)) {
      const j = searchPageHiLo(this.last!.bytes, this.entriesIn(lp), hi, lo);
      return j < 0 ? -1 : lp * ENTRIES_PER_PAGE + j;
    }
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (compareU64(this.fences, mid * 8, hi, lo) <= 0) low = mid;
      else high = mid - 1;
    }
    const i = searchPageHiLo(this.page(low).bytes, this.entriesIn(low), hi, lo);
    return i < 0 ? -1 : low * ENTRIES_PER_PAGE + i;
  }

  /** Offset of the newest record copied for slot `pos` (0 = none yet). */
  offsetOf(pos: number): number {
    const at = (pos % ENTRIES_PER_PAGE) * INDEX_ENTRY_SIZE;
    return this.page(Math.floor(pos / ENTRIES_PER_PAGE)).bytes.readUIntBE(at + 24, 6);
  }

  /** True when slot `pos` has no record yet and its revision to keep is the tid hi * 2^32 + lo. */
  keepsAtPackTime(pos: number, tidHi: number, tidLo: number): boolean {
    const b = this.page(Math.floor(pos / ENTRIES_PER_PAGE)).bytes;
    const at = (pos % ENTRIES_PER_PAGE) * INDEX_ENTRY_SIZE;
    return b.readUIntBE(at + 24, 6) === 0 && compareU64(b, at + 16, tidHi, tidLo) === 0;
  }

  /** Records that slot `pos` got a copied record at `off` of a transaction with tid hi * 2^32 + lo. */
  setCopied(pos: number, off: number, tidHi: number, tidLo: number, deleted: boolean): void {
    const page = this.page(Math.floor(pos / ENTRIES_PER_PAGE));
    const b = page.bytes;
    const at = (pos % ENTRIES_PER_PAGE) * INDEX_ENTRY_SIZE;
    const first = b.readUIntBE(at + 24, 6) === 0;
    b.writeUInt32BE(tidHi, at + 8);
    b.writeUInt32BE(tidLo, at + 12);
    if (first) {
      b.writeUInt32BE(tidHi, at + 16);
      b.writeUInt32BE(tidLo, at + 20);
    }
    b.writeUIntBE(off, at + 24, 6);
    b.writeUInt16BE(deleted ? ENTRY_FLAG_DELETE : 0, at + 30);
    page.dirty = true;
  }

  /** Number of slot pages. */
  get pageTotal(): number {
    return this.pageCount;
  }

  /** The fences (first oid of each page, big-endian u64s), in the index trailer's format. */
  fenceBytes(): Buffer {
    return this.fences.subarray(0, this.pageCount * 8);
  }

  /** Reads raw slot bytes [from, from + target.length) into `target` (after `flush`). */
  readRaw(target: Buffer, from: number): void {
    if (this.io.readAt(this.fd, target, 0, target.length, from, this.path) !== target.length) {
      throw new CorruptionError('pack slot file truncated', this.path, from);
    }
  }

  /** Writes every dirty page back. */
  flush(): void {
    for (const [p, page] of this.pages) {
      if (page.dirty) {
        this.io.writeAt(this.fd, page.bytes, p * PAGE_SIZE, this.path);
        page.dirty = false;
      }
    }
  }

  /** Reads the final slots in order, a page at a time. */
  *entries(): Generator<IndexEntry> {
    const buf = Buffer.allocUnsafe(PAGE_SIZE);
    for (let p = 0; p < this.pageCount; p++) {
      const len = this.entriesIn(p) * INDEX_ENTRY_SIZE;
      this.io.readAt(this.fd, buf, 0, len, p * PAGE_SIZE, this.path);
      for (let i = 0; i < len / INDEX_ENTRY_SIZE; i++) yield readEntry(buf, i * INDEX_ENTRY_SIZE);
    }
  }
}

