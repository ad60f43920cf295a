/** Map keys for oids: a number when the oid fits in 53 bits (the fast, compact path), else the bigint. */

/** A Map key standing for one oid. */
export type OidKey = number | bigint;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The Map key of `oid`. */
export function oidKey(oid: bigint): OidKey {
  return oid <= MAX_SAFE ? Number(oid) : oid;
}

/** The oid a key stands for. */
export function keyOid(key: OidKey): bigint {
  return typeof key === 'bigint' ? key : BigInt(key);
}
