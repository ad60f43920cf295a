/** Pack's output index under construction: sorted slots in a temporary file, patched through a small page LRU. */
import { CorruptionError } from '@handlerton/framework';
import { ENTRIES_PER_PAGE, INDEX_ENTRY_SIZE, PAGE_SIZE } from './constants.js';
import type { FileIO } from './file-io.js';
import { readEntry, searchPage, writeEntry, type IndexEntry } from './index-entry.js';

interface CachedPage {
  readonly bytes: Buffer;
  dirty: boolean;
}

/** Sorted oid slots written once in order, then updated in place while records are copied. */
export class SlotTable {
  private readonly fences: bigint[] = [];
  private count = 0;
  private readonly fill = Buffer.alloc(PAGE_SIZE);
  private inFill = 0;
  private readonly pages = new Map<number, CachedPage>();

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

  /** Appends the next slot (oids strictly increasing). */
  append(e: IndexEntry): void {
    if (this.inFill === 0) this.fences.push(e.oid);
    writeEntry(this.fill, this.inFill * INDEX_ENTRY_SIZE, e);
    this.inFill++;
    this.count++;
    if (this.inFill === ENTRIES_PER_PAGE) this.flushFill();
  }

  /** Ends the append phase. */
  endAppend(): void {
    if (this.inFill > 0) this.flushFill();
  }

  private flushFill(): void {
    const page = this.fences.length - 1;
    this.io.writeAt(this.fd, this.fill.subarray(0, this.inFill * INDEX_ENTRY_SIZE), page * PAGE_SIZE, this.path);
    this.inFill = 0;
  }

  private entriesIn(p: number): number {
    return Math.min(ENTRIES_PER_PAGE, this.count - p * ENTRIES_PER_PAGE);
  }

  private page(p: number): CachedPage {
    const hit = this.pages.get(p);
    if (hit) {
      this.pages.delete(p);
      this.pages.set(p, hit);
      return hit;
    }
    const len = this.entriesIn(p) * INDEX_ENTRY_SIZE;
    const bytes = Buffer.allocUnsafe(len);
    if (this.io.readAt(this.fd, bytes, 0, len, p * PAGE_SIZE, this.path) !== len) throw new CorruptionError('pack slot file truncated', this.path, p * PAGE_SIZE);
    const page = { bytes, dirty: false };
    this.pages.set(p, page);
    if (this.pages.size > this.capacity) {
      const [oldKey, old] = this.pages.entries().next().value as [number, CachedPage];
      this.pages.delete(oldKey);
      if (old.dirty) this.io.writeAt(this.fd, old.bytes, oldKey * PAGE_SIZE, this.path);
    }
    return page;
  }

  /** The slot of `oid`, or null when the oid has no slot. */
  lookup(oid: bigint): { entry: IndexEntry; page: number; index: number } | null {
    const fences = this.fences;
    if (fences.length === 0 || oid < fences[0]!) return null;
    let lo = 0;
    let hi = fences.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (fences[mid]! <= oid) lo = mid;
      else hi = mid - 1;
    }
    const page = this.page(lo);
    const i = searchPage(page.bytes, this.entriesIn(lo), oid);
    if (i < 0) return null;
    return { entry: readEntry(page.bytes, i * INDEX_ENTRY_SIZE), page: lo, index: i };
  }

  /** Overwrites slot `index` of page `p`. */
  update(p: number, index: number, e: IndexEntry): void {
    const page = this.page(p);
    writeEntry(page.bytes, index * INDEX_ENTRY_SIZE, e);
    page.dirty = true;
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
    const pages = Math.ceil(this.count / ENTRIES_PER_PAGE);
    const buf = Buffer.allocUnsafe(PAGE_SIZE);
    for (let p = 0; p < pages; p++) {
      const len = this.entriesIn(p) * INDEX_ENTRY_SIZE;
      this.io.readAt(this.fd, buf, 0, len, p * PAGE_SIZE, this.path);
      for (let i = 0; i < len / INDEX_ENTRY_SIZE; i++) yield readEntry(buf, i * INDEX_ENTRY_SIZE);
    }
  }
}
