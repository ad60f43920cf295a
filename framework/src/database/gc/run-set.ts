/**
 * A set of oids (stride 1) or map of oid -> tid (stride 2) kept as sorted runs: additions go to a
 * bounded buffer, which becomes a run when full. A set that is only read as a whole (`lookups`
 * false) keeps its runs until they pass half the store's threshold, then merges them all at once
 * (k-way) into a file; a set that answers lookups merges pairwise as runs grow (a log-structured
 * merge, so there are O(log n) runs to search). In a map, a later value for a key replaces the earlier one.
 */
import { CHUNK_ENTRIES, Cursor, Run, RunWriter, searchMemory, type RunStore, type Stride } from './sorted-run.js';
import type { Yielder } from './yielder.js';

/** Bits of a buffer position packed under an oid for sorting (the buffer holds at most CHUNK_ENTRIES = 2^14). */
const POSITION_BITS = 18n;
const POSITION_MASK = (1n << POSITION_BITS) - 1n;
/** Oids below this pack with a position into one 64-bit word. */
const PACKABLE = 1n << (64n - POSITION_BITS);

/** A growing sorted-run set; see the file comment. */
export class RunSet {
  /** The runs, oldest first. */
  runs: Run[] = [];
  readonly #store: RunStore;
  readonly #stride: Stride;
  readonly #yielder: Yielder;
  readonly #cap: number;
  readonly #oids: BigUint64Array;
  readonly #values: BigUint64Array;
  #n = 0;
  /** True when a buffered key is too wide to pack with its position into one sortable word. */
  #wide = false;
  readonly #lookups: boolean;

  /** `lookups`: the set's runs are searched while it grows (the marked set), so keep them few. */
  constructor(store: RunStore, stride: Stride, yielder: Yielder, lookups = false) {
    this.#store = store;
    this.#stride = stride;
    this.#yielder = yielder;
    this.#lookups = lookups;
    // One buffer's sort and packing run without a pause: keep it to a chunk (tens of milliseconds).
    this.#cap = Math.max(1, Math.min(CHUNK_ENTRIES, Math.floor(store.memoryEntries / 2)));
    this.#oids = new BigUint64Array(this.#cap);
    this.#values = new BigUint64Array(stride === 2 ? this.#cap : 0);
  }

  /** Entries in the runs and the buffer (an upper bound: keys may repeat across them). */
  get size(): number {
    return this.runs.reduce((sum, run) => sum + run.count, 0) + this.#n;
  }

  /** Adds `oid` (stride 1); true when the buffer is full and flush() must run. */
  add(oid: bigint): boolean {
    this.#oids[this.#n++] = oid;
    return this.#n === this.#cap;
  }

  /** Sets `oid` to `value` (stride 2); true when the buffer is full and flush() must run. */
  set(oid: bigint, value: bigint): boolean {
    if (oid >= PACKABLE) this.#wide = true;
    this.#oids[this.#n] = oid;
    this.#values[this.#n++] = value;
    return this.#n === this.#cap;
  }

  /** Turns the buffer into a run. */
  async flush(): Promise<void> {
    const n = this.#n;
    if (n === 0) return;
    this.#n = 0;
    if (this.#stride === 1) {
      const sorted = this.#oids.subarray(0, n).sort();
      let unique = 0;
      for (let i = 0; i < n; i++) if (unique === 0 || sorted[i] !== sorted[unique - 1]) sorted[unique++] = sorted[i]!;
      return this.push(Run.memory(1, sorted.slice(0, unique)));
    }
    // Sort positions by (oid, position) and keep each oid's last position: the newest value wins.
    const order = this.#sortedPositions(n);
    const data = new BigUint64Array(n * 2);
    let w = 0;
    for (let i = 0; i < n; i++) {
      const at = order[i]!;
      const oid = this.#oids[at]!;
      if (i + 1 < n && this.#oids[order[i + 1]!] === oid) continue;
      data[w++] = oid;
      data[w++] = this.#values[at]!;
    }
    this.#wide = false;
    return this.push(Run.memory(2, w === data.length ? data : data.slice(0, w)));
  }

  /** Buffer positions 0..n-1 ordered by (oid, position): a native sort of packed words when the oids allow. */
  #sortedPositions(n: number): Uint32Array {
    const order = new Uint32Array(n);
    if (this.#wide) {
      for (let i = 0; i < n; i++) order[i] = i;
      const oids = this.#oids;
      return order.sort((a, b) => (oids[a]! < oids[b]! ? -1 : oids[a]! > oids[b]! ? 1 : a - b));
    }
    const packed = new BigUint64Array(n);
    for (let i = 0; i < n; i++) packed[i] = (this.#oids[i]! << POSITION_BITS) | BigInt(i);
    packed.sort();
    for (let i = 0; i < n; i++) order[i] = Number(packed[i]! & POSITION_MASK);
    return order;
  }

  /** Adds a run, newer than every run held; see the file comment for when runs merge. */
  async push(run: Run): Promise<void> {
    if (run.count === 0) return run.drop();
    this.runs.push(run);
    if (!this.#lookups) {
      // Merge the memory runs into one file run once they hold half the threshold.
      const first = this.runs.findIndex((r) => r.data !== undefined);
      if (first < 0) return;
      const inMemory = this.runs.slice(first).reduce((sum, r) => sum + r.count, 0);
      if (this.runs.length - first > 1 && !this.#store.inMemory(inMemory)) {
        this.runs.splice(first, this.runs.length - first, await mergeMany(this.#store, this.runs.slice(first), this.#yielder));
      }
      return;
    }
    while (this.runs.length >= 2) {
      const newer = this.runs[this.runs.length - 1]!;
      const older = this.runs[this.runs.length - 2]!;
      if (older.count > 2 * newer.count) break;
      const merged = await mergeMany(this.#store, [older, newer], this.#yielder);
      this.runs.splice(this.runs.length - 2, 2, merged);
    }
  }

  /** Flushes and merges every run into one, which it returns (and keeps). */
  async compact(): Promise<Run> {
    await this.flush();
    if (this.runs.length >= 2) this.runs = [await mergeMany(this.#store, this.runs, this.#yielder)];
    return this.runs[0] ?? Run.memory(this.#stride, new BigUint64Array(0));
  }

  /** Hands the contents over as one run and empties the set. */
  async take(): Promise<Run> {
    const run = await this.compact();
    this.runs = [];
    return run;
  }

  /** Drops every run. */
  async drop(): Promise<void> {
    const runs = this.runs;
    this.runs = [];
    this.#n = 0;
    for (const run of runs) await run.drop();
  }
}

/** Merges `runs` (oldest first) into a new run and drops them; on equal keys the newest entry wins. */
export async function mergeMany(store: RunStore, runs: readonly Run[], yielder: Yielder): Promise<Run> {
  const stride = runs[0]!.stride;
  const out = new RunWriter(store, stride, runs.reduce((sum, r) => sum + r.count, 0));
  const cursors = runs.map((run) => new Cursor(run));
  // A binary min-heap of cursor indexes by (key, newest first).
  const heap: number[] = [];
  const less = (i: number, j: number): boolean => {
    const a = cursors[i]!;
    const b = cursors[j]!;
    const ka = a.buf[a.pos]!;
    const kb = b.buf[b.pos]!;
    return ka < kb || (ka === kb && i > j);
  };
  const down = (at: number): void => {
    for (;;) {
      const l = 2 * at + 1;
      if (l >= heap.length) return;
      const c = l + 1 < heap.length && less(heap[l + 1]!, heap[l]!) ? l + 1 : l;
      if (!less(heap[c]!, heap[at]!)) return;
      [heap[c], heap[at]] = [heap[at]!, heap[c]!];
      at = c;
    }
  };
  try {
    for (let i = 0; i < cursors.length; i++) if (await cursors[i]!.ready()) heap.push(i);
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
    let last: bigint | undefined;
    while (heap.length > 0) {
      const c = cursors[heap[0]!]!;
      const key = c.buf[c.pos]!;
      if (key !== last) {
        out.pushFrom(c.buf, c.pos);
        last = key;
        if (out.full) await out.drain();
      }
      c.pos += stride;
      if (c.pos >= c.buf.length && !(await c.ready())) {
        heap[0] = heap[heap.length - 1]!;
        heap.pop();
      }
      if (heap.length > 0) down(0);
      if (yielder.tick()) await yielder.pause();
    }
  } catch (error) {
    await out.discard();
    throw error;
  } finally {
    for (const cursor of cursors) await cursor.close();
  }
  const merged = await out.finish();
  for (const run of runs) await run.drop();
  return merged;
}

/**
 * The entries of `from` whose key is not in `minus` (both stride 1), as a new run; `from` is kept.
 * A few keys against a big file run are looked up by binary search, otherwise the two are merged.
 */
export async function subtractRun(store: RunStore, from: Run, minus: Run, yielder: Yielder): Promise<Run> {
  const out = new RunWriter(store, 1, from.count);
  try {
    const probeCost = from.count * Math.ceil(Math.log2(minus.count + 1));
    if (minus.data !== undefined || probeCost * 32 < minus.count) {
      for await (const chunk of from.chunks()) {
        for (const key of chunk) {
          const found = minus.data !== undefined ? searchMemory(minus.data, 1, key) : await minus.has(key);
          if (!found) out.push(key);
          if (out.full) await out.drain();
          if (yielder.tick()) await yielder.pause();
        }
      }
    } else {
      const a = new Cursor(from);
      const b = new Cursor(minus);
      try {
        while (a.pos < a.buf.length || (await a.ready())) {
          const key = a.buf[a.pos]!;
          while ((b.pos < b.buf.length || (await b.ready())) && b.buf[b.pos]! < key) b.pos++;
          if (!(b.pos < b.buf.length) || b.buf[b.pos] !== key) out.push(key);
          a.pos++;
          if (out.full) await out.drain();
          if (yielder.tick()) await yielder.pause();
        }
      } finally {
        await a.close();
        await b.close();
      }
    }
  } catch (error) {
    await out.discard();
    throw error;
  }
  return out.finish();
}
