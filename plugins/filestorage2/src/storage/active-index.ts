/**
 * The active segment's index: oid -> newest record of the oid in the segment. Entries live in
 * typed arrays in insertion order: no object per oid (a Map of objects cost about 0.6 µs per
 * published record and 100 bytes of heap per oid). New objects, whose oids increase from the
 * first one the segment saw, are found by direct addressing; other oids through a hash table of
 * entry numbers. The table is split in shards and the entries in fixed blocks, so growing never
 * copies more than one shard or block at a time (a whole-table rehash of a million oids held the
 * event loop for 50 ms).
 */
import type { OidKey } from '@handlerton/framework';

/** One entry, as read back. */
export interface ActiveEntry {
  /** Offset of the newest record of the oid in the segment. */
  readonly off: number;
  readonly tid: bigint;
  /** Tid of the oldest record of the oid in the segment. */
  readonly oldest: bigint;
  readonly deleted: boolean;
}

/** A sorted run of entries: oid keys in increasing order and their entry numbers. */
export interface SortedRun {
  readonly keys: Float64Array;
  readonly ids: Uint32Array;
}

const TWO_32 = 0x100000000;
const SHARD_BITS = 8;
const SHARDS = 1 << SHARD_BITS;
const FIRST_SHARD_SLOTS = 16;
const BLOCK_BITS = 16;
/** Entries per block (the first block grows to this size by doubling). */
const BLOCK = 1 << BLOCK_BITS;
const FIRST_BLOCK = 256;

/** Entries of one block, by position. */
class EntryBlock {
  keys: Float64Array;
  offs: Float64Array;
  /** Ordinals (in the index's tid table) of the newest and oldest transaction writing the oid here. */
  newest: Uint32Array;
  oldest: Uint32Array;
  deleted: Uint8Array;

  constructor(size: number) {
    this.keys = new Float64Array(size);
    this.offs = new Float64Array(size);
    this.newest = new Uint32Array(size);
    this.oldest = new Uint32Array(size);
    this.deleted = new Uint8Array(size);
  }

  get size(): number {
    return this.keys.length;
  }

  /** A copy of this block with room for `size` entries. */
  grown(size: number): EntryBlock {
    const b = new EntryBlock(size);
    b.keys.set(this.keys);
    b.offs.set(this.offs);
    b.newest.set(this.newest);
    b.oldest.set(this.oldest);
    b.deleted.set(this.deleted);
    return b;
  }
}

/** Oids from the first one entered that are found by direct addressing instead of hashing. */
const DENSE_SPAN = 1 << 24;
const DENSE_CHUNK_BITS = 14;
/** Slots of one lazily allocated piece of the direct-addressed range. */
const DENSE_CHUNK = 1 << DENSE_CHUNK_BITS;

/** oid -> newest record, for one segment. */
export class ActiveIndex {
  /**
   * Keys in [denseBase, denseBase + DENSE_SPAN) (the first key entered starts the range: new
   * objects get increasing oids from there) map to entry number + 1 by direct addressing, in
   * chunks allocated on first use; every other key goes through the hash shards. A key's place
   * never changes, so the two never overlap.
   */
  private denseBase = -1;
  private readonly dense: (Int32Array | undefined)[] = [];
  /** Per shard: entry number + 1 per slot (0: free). */
  private readonly shards: Int32Array[] = Array.from({ length: SHARDS }, () => new Int32Array(FIRST_SHARD_SLOTS));
  private readonly shardCounts = new Uint32Array(SHARDS);
  private readonly blocks: EntryBlock[] = [new EntryBlock(FIRST_BLOCK)];
  private count = 0;
  /** Oids of 2^53 and above (not exact as numbers): key -> entry number. */
  private readonly large = new Map<bigint, number>();
  private tids = new BigUint64Array(256);
  private txns = 0;

  /** Number of oids. */
  get size(): number {
    return this.count;
  }

  /** Registers a transaction's tid; returns the ordinal its records are entered with. */
  addTxn(tid: bigint): number {
    if (this.txns === this.tids.length) {
      const grown = new BigUint64Array(this.tids.length * 2);
      grown.set(this.tids);
      this.tids = grown;
    }
    this.tids[this.txns] = tid;
    return this.txns++;
  }

  /** Enters `off` as the newest record of `key`, written by transaction `txn` (an ordinal of addTxn). */
  put(key: OidKey, off: number, txn: number, deleted: boolean): void {
    let id = this.idOf(key);
    if (id < 0) id = this.append(key, txn);
    const b = this.blocks[id >>> BLOCK_BITS]!;
    const at = id & (BLOCK - 1);
    b.offs[at] = off;
    b.newest[at] = txn;
    b.deleted[at] = deleted ? 1 : 0;
  }

  /** The entry of `key`, or undefined. */
  get(key: OidKey): ActiveEntry | undefined {
    const id = this.idOf(key);
    if (id < 0) return undefined;
    return { off: this.offOf(id), tid: this.tidOf(id), oldest: this.oldestOf(id), deleted: this.deletedOf(id) };
  }

  /** The entry number of `key`, or -1. */
  idOf(key: OidKey): number {
    if (typeof key !== 'number') return this.large.get(key) ?? -1;
    const d = key - this.denseBase;
    if (this.denseBase >= 0 && d >= 0 && d < DENSE_SPAN) {
      const chunk = this.dense[d >>> DENSE_CHUNK_BITS];
      return chunk === undefined ? -1 : chunk[d & (DENSE_CHUNK - 1)]! - 1;
    }
    const h = hash(key);
    const table = this.shards[h & (SHARDS - 1)]!;
    const mask = table.length - 1;
    for (let slot = (h >>> SHARD_BITS) & mask; ; slot = (slot + 1) & mask) {
      const v = table[slot]!;
      if (v === 0) return -1;
      if (this.keyOf(v - 1) === key) return v - 1;
    }
  }

  /** Offset of entry `id`'s newest record. */
  offOf(id: number): number {
    return this.blocks[id >>> BLOCK_BITS]!.offs[id & (BLOCK - 1)]!;
  }

  /** Tid of entry `id`'s newest record. */
  tidOf(id: number): bigint {
    return this.tids[this.blocks[id >>> BLOCK_BITS]!.newest[id & (BLOCK - 1)]!]!;
  }

  /** Tid of entry `id`'s oldest record in the segment. */
  oldestOf(id: number): bigint {
    return this.tids[this.blocks[id >>> BLOCK_BITS]!.oldest[id & (BLOCK - 1)]!]!;
  }

  /** Whether entry `id`'s newest record is a delete marker. */
  deletedOf(id: number): boolean {
    return this.blocks[id >>> BLOCK_BITS]!.deleted[id & (BLOCK - 1)] === 1;
  }

  /**
   * The numeric keys as sorted runs of at most `runLength` entries, in insertion order (one run
   * when insertion order already was oid order, the common case). `pause` is awaited between
   * steps. The index must not change meanwhile (a frozen segment's).
   */
  async sortedRuns(runLength: number, pause: () => Promise<void>): Promise<SortedRun[]> {
    const n = this.count - this.large.size;
    const keys = new Float64Array(n);
    const ids = new Uint32Array(n);
    let inOrder = true;
    let last = -1;
    let at = 0;
    for (let id = 0; id < this.count; id++) {
      if ((id & (BLOCK - 1)) === BLOCK - 1) await pause();
      const key = this.keyOf(id);
      if (Number.isNaN(key)) continue;
      if (key <= last) inOrder = false;
      last = key;
      keys[at] = key;
      ids[at++] = id;
    }
    if (inOrder) return [{ keys, ids }];
    const runs: SortedRun[] = [];
    for (let from = 0; from < n; from += runLength) {
      await pause();
      const run = { keys: keys.subarray(from, from + runLength), ids: ids.subarray(from, from + runLength) };
      sortRun(run);
      runs.push(run);
    }
    return runs;
  }

  /** The oids of 2^53 and above in increasing order, with their entry numbers. */
  largeSorted(): { keys: bigint[]; ids: number[] } {
    const pairs = [...this.large.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { keys: pairs.map((p) => p[0]), ids: pairs.map((p) => p[1]) };
  }

  private keyOf(id: number): number {
    return this.blocks[id >>> BLOCK_BITS]!.keys[id & (BLOCK - 1)]!;
  }

  private append(key: OidKey, txn: number): number {
    const id = this.count;
    const blockNo = id >>> BLOCK_BITS;
    const at = id & (BLOCK - 1);
    let b = this.blocks[blockNo];
    if (b === undefined) {
      b = new EntryBlock(BLOCK);
      this.blocks.push(b);
    } else if (at === b.size) {
      b = b.grown(b.size * 2);
      this.blocks[blockNo] = b;
    }
    this.count++;
    b.oldest[at] = txn;
    if (typeof key === 'number') {
      b.keys[at] = key;
      this.insertSlot(key, id);
    } else {
      b.keys[at] = Number.NaN;
      this.large.set(key, id);
    }
    return id;
  }

  /** Enters entry `id` by direct addressing or in its hash shard (doubling the shard first when it is half full). */
  private insertSlot(key: number, id: number): void {
    if (this.denseBase < 0) this.denseBase = key;
    const d = key - this.denseBase;
    if (d >= 0 && d < DENSE_SPAN) {
      const c = d >>> DENSE_CHUNK_BITS;
      const chunk = (this.dense[c] ??= new Int32Array(DENSE_CHUNK));
      chunk[d & (DENSE_CHUNK - 1)] = id + 1;
      return;
    }
    const h = hash(key);
    const shard = h & (SHARDS - 1);
    let table = this.shards[shard]!;
    if ((this.shardCounts[shard]! + 1) * 2 > table.length) {
      const old = table;
      table = new Int32Array(old.length * 2);
      this.shards[shard] = table;
      for (const v of old) if (v !== 0) place(table, hash(this.keyOf(v - 1)), v);
    }
    place(table, h, id + 1);
    this.shardCounts[shard]!++;
  }
}

/** Puts `value` in the first free slot from the key's home slot. */
function place(table: Int32Array, h: number, value: number): void {
  const mask = table.length - 1;
  let slot = (h >>> SHARD_BITS) & mask;
  while (table[slot] !== 0) slot = (slot + 1) & mask;
  table[slot] = value;
}

/** A 32-bit mix of both halves of a key below 2^53. */
function hash(key: number): number {
  const lo = key >>> 0;
  const hi = (key - lo) / TWO_32;
  let h = Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1);
  h ^= h >>> 15;
  return h >>> 0;
}

const TWO_21 = 2 ** 21;

/**
 * Sorts a run's keys and reorders its ids with them. Keys below 2^32 are packed with their
 * position into one exactly representable double (key * 2^21 + position; runs are shorter than
 * 2^21) and sorted natively; otherwise pairs are sorted.
 */
function sortRun(run: SortedRun): void {
  const { keys, ids } = run;
  const n = keys.length;
  let max = 0;
  for (let i = 0; i < n; i++) if (keys[i]! > max) max = keys[i]!;
  const from = ids.slice();
  if (n >= TWO_21 || max >= TWO_32) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[a]! - keys[b]!);
    const k = keys.slice();
    for (let i = 0; i < n; i++) {
      keys[i] = k[order[i]!]!;
      ids[i] = from[order[i]!]!;
    }
    return;
  }
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = keys[i]! * TWO_21 + i;
  packed.sort();
  for (let i = 0; i < n; i++) {
    const v = packed[i]!;
    const at = v % TWO_21;
    keys[i] = (v - at) / TWO_21;
    ids[i] = from[at]!;
  }
}
