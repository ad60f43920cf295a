/** A bloom filter over 64-bit oids (double hashing of two 32-bit mixes, k probes). */

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The two base hashes of an oid, then its high and low halves (computed once per lookup, shared by all segments). */
export function oidHashes(oid: bigint): [number, number, number, number] {
  let lo: number;
  let hi: number;
  if (oid <= MAX_SAFE) {
    const n = Number(oid);
    lo = n >>> 0;
    hi = Math.floor(n / 0x100000000);
  } else {
    lo = Number(oid & 0xffffffffn);
    hi = Number(oid >> 32n);
  }
  return [hash1(hi, lo), hash2(hi, lo), hi, lo];
}

function hash1(hi: number, lo: number): number {
  return fmix32(lo ^ fmix32(hi ^ 0x9e3779b9));
}

function hash2(hi: number, lo: number): number {
  return (fmix32(hi ^ fmix32(lo ^ 0x7f4a7c15)) | 1) >>> 0;
}

/** Sets the bits of the oid hi * 2^32 + lo (BigInt-free form of bloomAdd). */
export function bloomAddHiLo(bits: Uint8Array, nbits: number, k: number, hi: number, lo: number): void {
  nbits >>>= 0; // a uint32 for V8: integer modulo instead of a floating-point one
  const h1 = hash1(hi, lo);
  const h2 = hash2(hi, lo);
  for (let i = 0; i < k; i++) {
    const bit = ((h1 + Math.imul(i, h2)) >>> 0) % nbits;
    bits[bit >>> 3]! |= 1 << (bit & 7);
  }
}

/** Sets the bits of `oid` in `bits` (a bit array of `nbits` bits). */
export function bloomAdd(bits: Uint8Array, nbits: number, k: number, oid: bigint): void {
  nbits >>>= 0; // a uint32 for V8: integer modulo instead of a floating-point one
  const [h1, h2] = oidHashes(oid);
  for (let i = 0; i < k; i++) {
    const bit = ((h1 + Math.imul(i, h2)) >>> 0) % nbits;
    bits[bit >>> 3]! |= 1 << (bit & 7);
  }
}

/** False when the oid with base hashes `hashes` (see oidHashes) is certainly absent; true when it may be present. */
export function bloomMayContain(bits: Uint8Array, nbits: number, k: number, hashes: readonly number[]): boolean {
  nbits >>>= 0; // a uint32 for V8: integer modulo instead of a floating-point one
  const h1 = hashes[0]!;
  const h2 = hashes[1]!;
  for (let i = 0; i < k; i++) {
    const bit = ((h1 + Math.imul(i, h2)) >>> 0) % nbits;
    if ((bits[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}
