/**
 * The active segment's index: oid -> newest record of the oid in the segment. Entries live in
 * typed arrays in insertion order: no object per oid (a Map of objects cost about 0.6 µs per
 * published record and 100 bytes of heap per oid). New objects, whose oids increase from the
 * storage's next oid at the segment's start, are found by direct addressing (dense-oids.ts); other
 * oids through a seeded hash table of entry numbers. The table is split in shards and the entries
 * in fixed blocks, so growing never copies more than one shard or block at a time (a whole-table
 * rehash of a million oids held the event loop for 50 ms).
 */
import { randomBytes } from 'node:crypto';
import type { OidKey } from '@handlerton/framework';
import { DenseOids } from './dense-oids.js';

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
/** New objects' oids are directly addressed only below this (exact as numbers, with room for the span). */
const MAX_DENSE_BASE = 2n ** 52n;
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

/** oid -> newest record, for one segment. */
export class ActiveIndex {
  /** New objects' oids, when the segment was told where they start (see startNewOidsAt). */
  private dense: DenseOids | null = null;
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

  /**
   * Declares that new objects of this segment get oids from `nextOid` on (the storage's next oid
   * when the segment starts taking commits), so that they are found by direct addressing. Only
   * while the index is empty: a key's place must never change.
   */
  startNewOidsAt(nextOid: bigint): void {
    if (this.count === 0 && this.dense === null && nextOid < MAX_DENSE_BASE) this.dense = new DenseOids(Number(nextOid));
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
    if (this.dense !== null) {
      const id = this.dense.idOf(key);
      if (id !== -2) return id;
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
    if (this.dense !== null && this.dense.add(key, id)) return;
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

/** Per-process seeds of the key hash (oids come from clients: no fixed family of keys collides everywhere). */
const SEED_HI = randomBytes(4).readUInt32BE(0);
const SEED_LO = randomBytes(4).readUInt32BE(0);

/** The murmur3 32-bit finalizer: every input bit affects every output bit. */
function fmix32(x: number): number {
  let h = x ^ (x >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A seeded 32-bit hash of both halves of a key below 2^53. */
function hash(key: number): number {
  const lo = key >>> 0;
  const hi = (key - lo) / TWO_32;
  return fmix32(lo ^ fmix32(hi ^ SEED_HI) ^ SEED_LO);
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
