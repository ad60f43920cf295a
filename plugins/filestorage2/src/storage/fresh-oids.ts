/**
 * Which oids above a base were never written: one bit per oid, set when a transaction writes it.
 * An oid whose bit is clear has no revision anywhere (no segment holds an oid at or above the base,
 * which is above every oid stored when the storage was opened), so a store of a new object needs
 * no index lookup. Oids beyond the bitmap's reach are simply "unknown" (looked up as usual).
 */
export class FreshOids {
  private bits = new Uint8Array(1024);

  /** `base`: above every oid stored when the storage was opened. */
  constructor(private readonly base: number) {}

  /** True when `key` (a numeric oid key) is known never to have been written. */
  isFresh(key: number): boolean {
    const i = key - this.base;
    if (i < 0 || i >= this.bits.length * 8) return false;
    return (this.bits[i >>> 3]! & (1 << (i & 7))) === 0;
  }

  /** Records a write of the oid `key` (a numeric oid key; BigInt keys are beyond reach anyway). */
  markWritten(key: number): void {
    const i = key - this.base;
    if (i < 0) return;
    if (i >= this.bits.length * 8) {
      if (i >= MAX_BITS) return; // beyond reach: such oids are looked up as usual
      const grown = new Uint8Array(Math.min(MAX_BITS / 8, Math.max(this.bits.length * 2, Math.ceil((i + 1) / 8))));
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[i >>> 3]! |= 1 << (i & 7);
  }
}

/** At most 2^27 oids (16 MiB of bits) past the base are tracked. */
const MAX_BITS = 2 ** 27;
