/**
 * A set of oids (stride 1) or map of oid -> tid (stride 2) kept as sorted runs: additions go to a
 * bounded buffer, which becomes a run when full; runs merge pairwise as they grow (a log-structured
 * merge, so there are O(log n) of them) and go to files once past the store's memory threshold.
 * In a map, a later value for a key replaces the earlier one.
 */
import { type OidKey, oidKey } from '../../contracts/ids.js';
import { CHUNK_ENTRIES, Cursor, Run, RunWriter, searchMemory, type RunStore, type Stride } from './sorted-run.js';
import type { Yielder } from './yielder.js';

/** A growing sorted-run set; see the file comment. */
export class RunSet {
  /** The runs, oldest first. */
  runs: Run[] = [];
  readonly #store: RunStore;
  readonly #stride: Stride;
  readonly #yielder: Yielder;
  readonly #cap: number;
  #oids: BigUint64Array;
  #n = 0;
  readonly #pairs = new Map<OidKey, bigint>();

  constructor(store: RunStore, stride: Stride, yielder: Yielder) {
    this.#store = store;
    this.#stride = stride;
    this.#yielder = yielder;
    this.#cap = Math.max(1, Math.min(4 * CHUNK_ENTRIES, Math.floor(store.memoryEntries / 2)));
    this.#oids = new BigUint64Array(stride === 1 ? this.#cap : 0);
  }

  /** Entries in the runs and the buffer (an upper bound: keys may repeat across them). */
  get size(): number {
    return this.runs.reduce((sum, run) => sum + run.count, 0) + this.#n + this.#pairs.size;
  }

  /** Adds `oid` (stride 1); true when the buffer is full and flush() must run. */
  add(oid: bigint): boolean {
    this.#oids[this.#n++] = oid;
    return this.#n === this.#cap;
  }

  /** Sets `oid` to `value` (stride 2); true when the buffer is full and flush() must run. */
  set(oid: bigint, value: bigint): boolean {
    this.#pairs.set(oidKey(oid), value);
    return this.#pairs.size >= this.#cap;
  }

  /** Turns the buffer into a run. */
  async flush(): Promise<void> {
    if (this.#stride === 1) {
      if (this.#n === 0) return;
      const sorted = this.#oids.subarray(0, this.#n).sort();
      let unique = 0;
      for (let i = 0; i < sorted.length; i++) if (unique === 0 || sorted[i] !== sorted[unique - 1]) sorted[unique++] = sorted[i]!;
      const data = sorted.slice(0, unique);
      this.#n = 0;
      await this.push(Run.memory(1, data));
      return;
    }
    if (this.#pairs.size === 0) return;
    const keys = new BigUint64Array(this.#pairs.size);
    let i = 0;
    for (const key of this.#pairs.keys()) keys[i++] = BigInt(key);
    keys.sort();
    const data = new BigUint64Array(keys.length * 2);
    for (let j = 0; j < keys.length; j++) {
      data[2 * j] = keys[j]!;
      data[2 * j + 1] = this.#pairs.get(oidKey(keys[j]!))!;
    }
    this.#pairs.clear();
    await this.push(Run.memory(2, data));
  }

  /** Adds a run (newer than every run held), then merges while the last run is not much smaller than the one before. */
  async push(run: Run): Promise<void> {
    if (run.count === 0) return run.drop();
    this.runs.push(run);
    while (this.runs.length >= 2) {
      const newer = this.runs[this.runs.length - 1]!;
      const older = this.runs[this.runs.length - 2]!;
      if (older.count > 2 * newer.count) break;
      const merged = await mergeRuns(this.#store, older, newer, this.#yielder);
      this.runs.splice(this.runs.length - 2, 2, merged);
    }
  }

  /** Flushes and merges every run into one, which it returns (and keeps). */
  async compact(): Promise<Run> {
    await this.flush();
    while (this.runs.length >= 2) {
      const newer = this.runs.pop()!;
      const older = this.runs.pop()!;
      this.runs.push(await mergeRuns(this.#store, older, newer, this.#yielder));
    }
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
    this.#pairs.clear();
    for (const run of runs) await run.drop();
  }
}

/** Merges two runs into a new one (dropping both); on equal keys the newer entry wins. */
export async function mergeRuns(store: RunStore, older: Run, newer: Run, yielder: Yielder): Promise<Run> {
  const stride = older.stride;
  const out = new RunWriter(store, stride, older.count + newer.count);
  const a = new Cursor(older);
  const b = new Cursor(newer);
  try {
    for (;;) {
      const hasA = a.pos < a.buf.length || (await a.ready());
      const hasB = b.pos < b.buf.length || (await b.ready());
      if (!hasA && !hasB) break;
      if (hasA && (!hasB || a.buf[a.pos]! < b.buf[b.pos]!)) {
        out.pushFrom(a.buf, a.pos);
        a.pos += stride;
      } else {
        if (hasA && a.buf[a.pos] === b.buf[b.pos]) a.pos += stride;
        out.pushFrom(b.buf, b.pos);
        b.pos += stride;
      }
      if (out.full) await out.drain();
      if (yielder.tick()) await yielder.pause();
    }
  } catch (error) {
    await out.discard();
    throw error;
  } finally {
    await a.close();
    await b.close();
  }
  const merged = await out.finish();
  await older.drop();
  await newer.drop();
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
