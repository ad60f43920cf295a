/** A small LRU of index pages shared by the sealed segments of one storage. */

/** LRU map from a numeric page key to its bytes. */
export class PageCache {
  private readonly pages = new Map<number, Buffer>();

  constructor(private readonly capacity: number) {}

  /** The cached page, refreshed as most recently used. */
  get(key: number): Buffer | undefined {
    const page = this.pages.get(key);
    if (page !== undefined) {
      this.pages.delete(key);
      this.pages.set(key, page);
    }
    return page;
  }

  /** Caches a page, evicting the least recently used beyond capacity. */
  set(key: number, page: Buffer): void {
    this.pages.set(key, page);
    if (this.pages.size > this.capacity) {
      const oldest = this.pages.keys().next().value as number;
      this.pages.delete(oldest);
    }
  }

  /** Drops every page of a segment (its key prefix). */
  dropSegment(uid: number): void {
    for (const key of this.pages.keys()) if (Math.floor(key / PAGE_KEY_SPAN) === uid) this.pages.delete(key);
  }
}

/** Page numbers per segment uid in the key space. */
export const PAGE_KEY_SPAN = 2 ** 30;
