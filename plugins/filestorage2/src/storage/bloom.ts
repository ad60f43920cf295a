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

/** The two base hashes of an oid (computed once per lookup and shared by all segments probed). */
export function oidHashes(oid: bigint): [number, number] {
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
  const h1 = fmix32(lo ^ fmix32(hi ^ 0x9e3779b9));
  const h2 = (fmix32(hi ^ fmix32(lo ^ 0x7f4a7c15)) | 1) >>> 0;
  return [h1, h2];
}

/** Sets the bits of `oid` in `bits` (a bit array of `nbits` bits). */
export function bloomAdd(bits: Uint8Array, nbits: number, k: number, oid: bigint): void {
  const [h1, h2] = oidHashes(oid);
  for (let i = 0; i < k; i++) {
    const bit = ((h1 + Math.imul(i, h2)) >>> 0) % nbits;
    bits[bit >>> 3]! |= 1 << (bit & 7);
  }
}

/** False when the oid with base hashes `hashes` (see oidHashes) is certainly absent; true when it may be present. */
export function bloomMayContain(bits: Uint8Array, nbits: number, k: number, hashes: readonly [number, number]): boolean {
  const [h1, h2] = hashes;
  for (let i = 0; i < k; i++) {
    const bit = ((h1 + Math.imul(i, h2)) >>> 0) % nbits;
    if ((bits[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}
