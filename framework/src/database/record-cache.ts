/**
 * The record cache of one database (ZODB's object cache, RelStorage's local cache): committed
 * revisions keyed by oid and tid, each with the range of views it is valid for, bounded in bytes
 * (objects not read since eviction last passed over them go first: a second chance, as CLOCK).
 *
 * A revision is valid for a view at tid V when `tid <= V` and either `end` (the tid of the next
 * revision, exact) is null and the revision is current, or `V < end`. Validity is kept exact by
 * the rules below, all driven by RuntimeStorage, through which every commit of the database goes:
 * - a commit that starts finishing at tid C ends the current revision of each object it writes
 *   (`end = C`) before the engine can publish it, so no view that can see C reads the old one;
 * - the revisions a commit wrote are filled in as current when it returns, unless another commit of
 *   the same object is still finishing (then nothing is filled: the next load fills it);
 * - a loaded revision is filled in as current only when no commit finished or started finishing
 *   since the load was issued (`ticket`) and none of that object is in flight; a loaded revision
 *   that has a successor is filled in with that exact `end`.
 * Commits the database does not see (another client, or the raw engine used beside the database)
 * must be reported through `invalidate` or `clear`; RuntimeStorage does that.
 */
import type { Oid, Tid } from '../contracts/ids.js';
import type { BlobRef, RecordInput, RecordRefs } from '../contracts/records.js';

/** The default bound of a database's record cache: 64 MiB. */
export const DEFAULT_RECORD_CACHE_BYTES = 64 * 1024 * 1024;

/** Bytes counted per cached revision besides its data and references (objects, map entries). */
const REVISION_OVERHEAD = 96;
/** Revisions kept per object (the current one and the newest older ones); older views are rare. */
const MAX_REVISIONS_PER_OBJECT = 3;
/** Bytes counted per object slot. */
const SLOT_OVERHEAD = 80;

/** One cached revision (a view's record as it is: `oid`, `tid`, `record`). */
export interface CachedRevision {
  readonly oid: Oid;
  readonly tid: Tid;
  /** Tid of the next revision; null while this one is current. */
  end: Tid | null;
  readonly record: RecordInput;
  readonly bytes: number;
}

/** What the cache holds for one object. */
interface Slot {
  /** Cached revisions, oldest first. */
  readonly revisions: CachedRevision[];
  /** Commits of this object that started finishing and have not returned. */
  busy: number;
  /** Read since eviction last passed over it (its second chance; see `#evict`). */
  used: boolean;
}

/** Counters of a record cache. */
export interface RecordCacheStats {
  /** The configured bound in bytes (0: the cache is off). */
  readonly maxBytes: number;
  /** Bytes held now (estimated: data, references and per-entry overhead). */
  readonly bytes: number;
  /** Revisions held now. */
  readonly revisions: number;
  /** Reads answered from the cache. */
  readonly hits: number;
  /** Reads that went to the engine. */
  readonly misses: number;
  /** Objects dropped to stay under the bound. */
  readonly evictions: number;
}

/** A size-bounded cache of committed revisions with exact MVCC validity. */
export class RecordCache {
  readonly maxBytes: number;
  /** Oid -> slot, least recently cached or spared by eviction first. */
  readonly #slots = new Map<Oid, Slot>();
  #bytes = 0;
  #revisions = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  /** Moves whenever a commit starts or ends finishing, or the cache is cleared (see `ticket`). */
  #sequence = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** The revision of `oid` a view at `viewTid` reads, when cached. */
  lookup(oid: Oid, viewTid: Tid): CachedRevision | undefined {
    const slot = this.#slots.get(oid);
    if (slot !== undefined) {
      const revisions = slot.revisions;
      for (let i = revisions.length - 1; i >= 0; i--) {
        const revision = revisions[i]!;
        if (revision.tid > viewTid) continue;
        if (revision.end === null || viewTid < revision.end) {
          this.#hits += 1;
          // A flag, not a move to the end of the map: a hit costs no map update (eviction spares it once).
          slot.used = true;
          return revision;
        }
        break;
      }
    }
    this.#misses += 1;
    return undefined;
  }

  /** A token taken before a load: `fillLoaded` uses it to tell whether a commit raced with the load. */
  ticket(): number {
    return this.#sequence;
  }

  /**
   * Files a revision a load returned: `nextTid` is the tid of its successor (null: it was current when
   * read). Does nothing when it may be stale (see the class comment).
   */
  fillLoaded(oid: Oid, tid: Tid, nextTid: Tid | null, record: RecordInput, ticket: number): void {
    if (this.maxBytes === 0) return;
    const slot = this.#slots.get(oid);
    if (nextTid === null && (ticket !== this.#sequence || (slot !== undefined && slot.busy > 0))) return;
    if (slot !== undefined) {
      const newest = slot.revisions.at(-1);
      if (slot.revisions.some((r) => r.tid === tid) || (nextTid === null && newest !== undefined && newest.tid > tid)) return;
      // A cached "current" revision older than a revision the engine has is stale (its true end is unknown): drop it.
      if (newest !== undefined && newest.end === null && newest.tid < tid) this.#drop(slot);
    }
    this.#insert(oid, slot, { oid, tid, end: nextTid, record: ownCopy(record), bytes: sizeOf(record) });
  }

  /** A commit at `tid` writing `oids` starts finishing: their current revisions end at `tid` (an oid listed twice is counted twice, as in `commitFinished`). */
  commitStarting(tid: Tid, oids: Iterable<Oid>): void {
    this.#sequence += 1;
    if (this.maxBytes === 0) return;
    for (const oid of oids) {
      let slot = this.#slots.get(oid);
      if (slot === undefined) {
        slot = { revisions: [], busy: 0, used: false };
        this.#slots.set(oid, slot);
        this.#bytes += SLOT_OVERHEAD;
      }
      slot.busy += 1;
      const newest = slot.revisions.at(-1);
      if (newest !== undefined && newest.end === null && newest.tid < tid) newest.end = tid;
    }
  }

  /**
   * The commit at `tid` returned: `committed` tells whether it is known to have committed; `writes`
   * are its records (null: a delete). Committed records become the objects' current revisions.
   */
  commitFinished(tid: Tid, writes: Iterable<readonly [Oid, RecordInput | null]>, committed: boolean): void {
    const oids: Oid[] = [];
    const records: (RecordInput | null)[] = [];
    for (const [oid, record] of writes) {
      oids.push(oid);
      records.push(record);
    }
    this.writesFinished(tid, oids, records, committed);
  }

  /**
   * `commitFinished` with the writes as two arrays (no pair per write): `oids` are the objects passed
   * to `commitStarting` and `records` their records (null: a delete), in the same order; of an oid
   * listed twice, the last record is the one stored.
   */
  writesFinished(tid: Tid, oids: readonly Oid[], records: readonly (RecordInput | null)[], committed: boolean): void {
    this.#sequence += 1;
    if (this.maxBytes === 0) return;
    for (let i = 0; i < oids.length; i++) {
      const oid = oids[i]!;
      const record = records[i] ?? null;
      const slot = this.#slots.get(oid);
      if (slot === undefined) continue;
      slot.busy -= 1;
      const newest = slot.revisions.at(-1);
      if (committed && record !== null && slot.busy === 0 && (newest === undefined || newest.tid < tid)) {
        this.#insert(oid, slot, { oid, tid, end: null, record: ownCopy(record), bytes: sizeOf(record) });
      } else if (slot.busy === 0 && slot.revisions.length === 0) {
        this.#slots.delete(oid);
        this.#bytes -= SLOT_OVERHEAD;
      }
    }
    this.#evict();
  }

  /** Forgets the current revisions of `oids` (changed by a commit this database did not make). */
  invalidate(oids: Iterable<Oid>): void {
    this.#sequence += 1;
    for (const oid of oids) {
      const slot = this.#slots.get(oid);
      if (slot !== undefined && slot.revisions.at(-1)?.end === null) this.#drop(slot);
    }
  }

  /** Forgets every revision (commits still finishing keep their slots). */
  clear(): void {
    this.#sequence += 1;
    for (const [oid, slot] of [...this.#slots]) {
      for (const revision of slot.revisions) this.#bytes -= revision.bytes;
      this.#revisions -= slot.revisions.length;
      slot.revisions.length = 0;
      if (slot.busy === 0) {
        this.#slots.delete(oid);
        this.#bytes -= SLOT_OVERHEAD;
      }
    }
  }

  /** The counters. */
  stats(): RecordCacheStats {
    return {
      maxBytes: this.maxBytes,
      bytes: this.#bytes,
      revisions: this.#revisions,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
    };
  }

  /** Removes the newest revision of `slot`. */
  #drop(slot: Slot): void {
    const removed = slot.revisions.pop();
    if (removed === undefined) return;
    this.#bytes -= removed.bytes;
    this.#revisions -= 1;
  }

  #insert(oid: Oid, existing: Slot | undefined, revision: CachedRevision): void {
    if (revision.bytes + SLOT_OVERHEAD > this.maxBytes) return;
    let slot = existing;
    if (slot === undefined) {
      slot = { revisions: [], busy: 0, used: false };
      this.#bytes += SLOT_OVERHEAD;
      this.#slots.set(oid, slot);
    } else {
      slot.used = true;
    }
    const revisions = slot.revisions;
    let at = revisions.length;
    while (at > 0 && revisions[at - 1]!.tid > revision.tid) at--;
    // The newest revision (the usual case) is appended: no array is made for splice's result.
    if (at === revisions.length) revisions.push(revision);
    else revisions.splice(at, 0, revision);
    this.#bytes += revision.bytes;
    this.#revisions += 1;
    while (revisions.length > MAX_REVISIONS_PER_OBJECT) {
      const oldest = revisions.shift()!;
      this.#bytes -= oldest.bytes;
      this.#revisions -= 1;
    }
    this.#evict(slot);
  }

  /**
   * Drops objects until the cache is under its bound, oldest first (second chance, as the CLOCK
   * algorithm): an object read or refilled since the last pass is spared once and goes to the end;
   * objects with commits in flight stay, and so does `filled` (the object just cached).
   */
  #evict(filled?: Slot): void {
    while (this.#bytes > this.maxBytes) {
      const kept: [Oid, Slot][] = [];
      let spared = false;
      for (const [oid, slot] of this.#slots) {
        if (this.#bytes <= this.maxBytes) break;
        this.#slots.delete(oid);
        if (slot.busy > 0 || slot.used || slot === filled) {
          if (slot.busy === 0 && slot.used) spared = true;
          slot.used = false;
          kept.push([oid, slot]);
          continue;
        }
        for (const revision of slot.revisions) this.#bytes -= revision.bytes;
        this.#revisions -= slot.revisions.length;
        this.#bytes -= SLOT_OVERHEAD;
        this.#evictions += 1;
      }
      for (const [oid, slot] of kept) this.#slots.set(oid, slot);
      // A second pass only when this one spared something that can go now.
      if (!spared) return;
    }
  }
}

/**
 * A record nobody changes after it was made: the framework's own copy of the data a transaction
 * writes. The record cache keeps it without a copy, and an engine may keep it without one too.
 */
export class ImmutableRecord implements RecordInput {
  constructor(
    readonly data: Uint8Array,
    readonly refs: RecordRefs,
  ) {}
}

/** A private copy of a record (the engine or the writer may reuse its buffers), unless it is immutable. */
function ownCopy(record: RecordInput): RecordInput {
  if (record instanceof ImmutableRecord) return record;
  return {
    data: new Uint8Array(record.data),
    refs: { oids: [...record.refs.oids], blobs: record.refs.blobs.map((ref: BlobRef) => ({ ...ref })) },
  };
}

/** Bytes a cached revision is counted as. */
function sizeOf(record: RecordInput): number {
  return record.data.length + record.refs.oids.length * 8 + record.refs.blobs.length * 48 + REVISION_OVERHEAD;
}
