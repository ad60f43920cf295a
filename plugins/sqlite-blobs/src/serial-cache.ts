/**
 * A bounded cache of current serials (oid -> tid of the current revision, and whether it is a
 * delete marker), so that conflict checks at `store` rarely need a B-tree lookup. The storage is
 * the only writer, so it keeps the cache exact: it updates it at every finish and clears it at pack.
 */
import type { Oid, Tid } from '@handlerton/framework';

/** A current serial as cached. */
export interface CachedSerial {
  readonly tid: Tid;
  readonly deleted: boolean;
}

/** Oid -> current serial, at most `limit` entries (the first inserted go first). */
export class SerialCache {
  private readonly map = new Map<Oid, CachedSerial>();

  constructor(private readonly limit = 100_000) {}

  /** The cached serial of `oid`, if any. */
  get(oid: Oid): CachedSerial | undefined {
    return this.map.get(oid);
  }

  /** Records the current serial of `oid`. */
  set(oid: Oid, serial: CachedSerial): void {
    const known = this.map.has(oid);
    this.map.set(oid, serial);
    if (!known && this.map.size > this.limit) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
  }

  /** Forgets everything. */
  clear(): void {
    this.map.clear();
  }
}
