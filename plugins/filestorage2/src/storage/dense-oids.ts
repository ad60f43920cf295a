/**
 * Direct addressing of new objects' oids for the active index: the oids from the storage's next
 * oid at the segment's start (new objects get increasing oids from there) map to entry number + 1
 * in 64 KiB chunks. A chunk is allocated only at the growing edge of the range, and only once the
 * chunk before it is a quarter full; a key in any other chunk marks that chunk "hashed" for good,
 * and its keys go to the hash table. Each chunk's state never changes once set, so a key is
 * always looked for where it was put.
 */

/** Oids past the start that are directly addressed at most. */
const SPAN = 1 << 24;
const CHUNK_BITS = 14;
const CHUNK = 1 << CHUNK_BITS;
const CHUNKS = SPAN / CHUNK;
/** Chunks behind the edge that may still be allocated (new oids committed a little out of order). */
const BEHIND = 3;

/** oid key -> entry number for the directly addressed range; -2 means "not here, ask the hash". */
export class DenseOids {
  private readonly chunks: (Int32Array | undefined)[] = [];
  /** 1 for a chunk whose keys go to the hash table (never allocated). */
  private readonly hashed = new Uint8Array(CHUNKS);
  private readonly counts = new Uint32Array(CHUNKS);
  private highest = -1;

  /** `base`: the first oid a new object of this segment can get (a number below 2^53). */
  constructor(private readonly base: number) {}

  /** The entry number of `key`, -1 when it is absent, -2 when `key` is not directly addressed. */
  idOf(key: number): number {
    const d = key - this.base;
    if (d < 0 || d >= SPAN) return -2;
    const chunk = this.chunks[d >>> CHUNK_BITS];
    if (chunk === undefined) return -2;
    return chunk[d & (CHUNK - 1)]! - 1;
  }

  /** Enters a new key; false when the key belongs to the hash table. */
  add(key: number, id: number): boolean {
    const d = key - this.base;
    if (d < 0 || d >= SPAN) return false;
    const c = d >>> CHUNK_BITS;
    let chunk = this.chunks[c];
    if (chunk === undefined) {
      if (this.hashed[c] === 1 || !this.mayAllocate(c)) {
        this.hashed[c] = 1;
        return false;
      }
      chunk = new Int32Array(CHUNK);
      this.chunks[c] = chunk;
      if (c > this.highest) this.highest = c;
    }
    chunk[d & (CHUNK - 1)] = id + 1;
    this.counts[c]!++;
    return true;
  }

  /** Whether chunk `c` (neither allocated nor hashed) is at the growing edge. */
  private mayAllocate(c: number): boolean {
    if (this.highest < 0) return c === 0;
    if (c <= this.highest) return c >= this.highest - BEHIND;
    return c === this.highest + 1 && this.counts[this.highest]! >= CHUNK / 4;
  }
}
