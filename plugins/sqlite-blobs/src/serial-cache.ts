/**
 * A bounded cache of current serials (oid -> tid of the current revision, and whether it is a
 * delete marker), so that conflict checks at `store` rarely need a B-tree lookup. The storage is
 * the only writer, so it keeps the cache exact: it updates it at every finish and clears it at pack.
 */
import { oidKey, type Oid, type OidKey, type Tid } from '@handlerton/framework';

/** A current serial as cached. */
export interface CachedSerial {
  readonly tid: Tid;
  readonly deleted: boolean;
}

/**
 * Oid -> current serial, holding between `limit` and 2 x `limit` entries. Two generations instead
 * of evicting the oldest key one at a time: deleting from the front of a large Map leaves holes that
 * every later `keys().next()` walks over (measured: commits slowed from 0.6 ms to 3.5 ms).
 */
export class SerialCache {
  private young = new Map<OidKey, CachedSerial>();
  private old = new Map<OidKey, CachedSerial>();

  constructor(private readonly limit = 100_000) {}

  /** The cached serial of `oid`, if any. */
  get(oid: Oid): CachedSerial | undefined {
    const key = oidKey(oid);
    return this.young.get(key) ?? this.old.get(key);
  }

  /** Records the current serial of `oid`. */
  set(oid: Oid, serial: CachedSerial): void {
    this.young.set(oidKey(oid), serial);
    if (this.young.size >= this.limit) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  /** Forgets everything. */
  clear(): void {
    this.young.clear();
    this.old.clear();
  }
}
