/**
 * The active segment's index: oid -> newest record of the oid in the segment. Entries live in
 * typed arrays in insertion order, found through an open-addressing hash table of entry numbers:
 * no object per oid (a Map of objects cost about 0.6 µs per published record and 100 bytes of
 * heap per oid), and insertion order is oid order in the common case, so a seal rarely sorts.
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

/** The index in increasing oid order: entry numbers, numeric keys first, then the BigInt ones. */
export interface SortedEntries {
  readonly keys: Float64Array;
  readonly ids: Uint32Array;
  readonly largeKeys: readonly bigint[];
  readonly largeIds: readonly number[];
}

const MIN_ENTRIES = 1024;
const TWO_32 = 0x100000000;
const TWO_21 = 2 ** 21;

/** oid -> newest record, for one segment. */
export class ActiveIndex {
  /** Entry number + 1 per hash slot (0: free). */
  private table = new Int32Array(MIN_ENTRIES * 2);
  private shift = 32 - Math.log2(MIN_ENTRIES * 2);
  private keys = new Float64Array(MIN_ENTRIES);
  private offs = new Float64Array(MIN_ENTRIES);
  /** Ordinals (in `tids`) of the newest and oldest transaction writing the oid here. */
  private newest = new Uint32Array(MIN_ENTRIES);
  private oldest = new Uint32Array(MIN_ENTRIES);
  private deleted = new Uint8Array(MIN_ENTRIES);
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
    if (id < 0) {
      id = this.append(key, txn);
    }
    this.offs[id] = off;
    this.newest[id] = txn;
    this.deleted[id] = deleted ? 1 : 0;
  }

  /** The entry of `key`, or undefined. */
  get(key: OidKey): ActiveEntry | undefined {
    const id = this.idOf(key);
    if (id < 0) return undefined;
    return { off: this.offs[id]!, tid: this.tids[this.newest[id]!]!, oldest: this.tids[this.oldest[id]!]!, deleted: this.deleted[id] === 1 };
  }

  /** The entry number of `key`, or -1. */
  idOf(key: OidKey): number {
    if (typeof key !== 'number') return this.large.get(key) ?? -1;
    const table = this.table;
    const mask = table.length - 1;
    for (let slot = hashSlot(key, this.shift); ; slot = (slot + 1) & mask) {
      const v = table[slot]!;
      if (v === 0) return -1;
      if (this.keys[v - 1] === key) return v - 1;
    }
  }

  /** Offset of entry `id`'s newest record. */
  offOf(id: number): number {
    return this.offs[id]!;
  }

  /** Tid of entry `id`'s newest record. */
  tidOf(id: number): bigint {
    return this.tids[this.newest[id]!]!;
  }

  /** Tid of entry `id`'s oldest record in the segment. */
  oldestOf(id: number): bigint {
    return this.tids[this.oldest[id]!]!;
  }

  /** Whether entry `id`'s newest record is a delete marker. */
  deletedOf(id: number): boolean {
    return this.deleted[id] === 1;
  }

  /** The entries in increasing oid order (sorted only when insertion order was not oid order). */
  sorted(): SortedEntries {
    const n = this.count;
    const keys = new Float64Array(n - this.large.size);
    const ids = new Uint32Array(keys.length);
    let inOrder = true;
    let last = -1;
    let at = 0;
    for (let id = 0; id < n; id++) {
      const key = this.keys[id]!;
      if (Number.isNaN(key)) continue;
      if (key <= last) inOrder = false;
      last = key;
      keys[at] = key;
      ids[at++] = id;
    }
    if (!inOrder) sortKeysWithIds(keys, ids, (key) => this.idOf(key));
    const large = [...this.large.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { keys, ids, largeKeys: large.map((p) => p[0]), largeIds: large.map((p) => p[1]) };
  }

  private append(key: OidKey, txn: number): number {
    if (this.count === this.keys.length) this.growEntries();
    const id = this.count++;
    this.oldest[id] = txn;
    if (typeof key === 'number') {
      this.keys[id] = key;
      if (this.count * 2 > this.table.length) this.growTable();
      else this.insertSlot(key, id);
    } else {
      this.keys[id] = Number.NaN;
      this.large.set(key, id);
    }
    return id;
  }

  private insertSlot(key: number, id: number): void {
    const table = this.table;
    const mask = table.length - 1;
    let slot = hashSlot(key, this.shift);
    while (table[slot] !== 0) slot = (slot + 1) & mask;
    table[slot] = id + 1;
  }

  private growEntries(): void {
    const size = this.keys.length * 2;
    this.keys = grow(this.keys, new Float64Array(size));
    this.offs = grow(this.offs, new Float64Array(size));
    this.newest = grow(this.newest, new Uint32Array(size));
    this.oldest = grow(this.oldest, new Uint32Array(size));
    this.deleted = grow(this.deleted, new Uint8Array(size));
  }

  /** Doubles the hash table and enters every numeric entry again. */
  private growTable(): void {
    this.table = new Int32Array(this.table.length * 2);
    this.shift -= 1;
    for (let id = 0; id < this.count; id++) {
      const key = this.keys[id]!;
      if (!Number.isNaN(key)) this.insertSlot(key, id);
    }
  }
}

function grow<T extends Float64Array | Uint32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** Fibonacci hashing of both 32-bit halves of a key below 2^53, to `32 - shift` bits. */
function hashSlot(key: number, shift: number): number {
  const lo = key >>> 0;
  const hi = (key - lo) / TWO_32;
  return Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1) >>> shift;
}

/**
 * Sorts `keys` and reorders `ids` with them. When keys fit in 32 bits and there are fewer than
 * 2^21 of them, each key and its position are packed into one exactly representable double
 * (key * 2^21 + position) and sorted natively; otherwise the keys are sorted and the ids looked up again.
 */
function sortKeysWithIds(keys: Float64Array, ids: Uint32Array, idOf: (key: number) => number): void {
  const n = keys.length;
  let max = 0;
  for (let i = 0; i < n; i++) if (keys[i]! > max) max = keys[i]!;
  if (n >= TWO_21 || max >= TWO_32) {
    keys.sort();
    for (let i = 0; i < n; i++) ids[i] = idOf(keys[i]!);
    return;
  }
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = keys[i]! * TWO_21 + i;
  packed.sort();
  const from = ids.slice();
  for (let i = 0; i < n; i++) {
    const v = packed[i]!;
    const at = v % TWO_21;
    keys[i] = (v - at) / TWO_21;
    ids[i] = from[at]!;
  }
}
