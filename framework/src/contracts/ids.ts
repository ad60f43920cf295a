/**
 * Object ids (oids) and transaction ids (tids).
 *
 * Both are unsigned 64-bit integers, carried as `bigint` in the API and written as 8 bytes
 * big-endian on disk so that byte order equals numeric order.
 *
 * A tid is derived from wall-clock time: the high 44 bits hold milliseconds since the Unix
 * epoch, the low 20 bits a sequence number within that millisecond. Tids strictly increase:
 * a new tid is `max(tidOf(now), previous + 1)`, so they never go backwards even when the clock
 * does (ZODB's TimeStamp rule, API-2).
 */
import { InvalidArgumentError } from './errors.js';

/** An object id: unsigned 64-bit. Oid 0 is the root object. */
export type Oid = bigint;
/** A transaction id: unsigned 64-bit, strictly increasing, derived from wall-clock time. */
export type Tid = bigint;
/** A blob id assigned by a blob handlerton: unsigned 64-bit. */
export type BlobId = bigint;

/** The root object's oid: everything unreachable from it is garbage. */
export const ROOT_OID: Oid = 0n;
/** The "no transaction yet" tid, and the serial of a new object. */
export const ZERO_TID: Tid = 0n;
/** Largest value an oid or tid can take. */
export const MAX_U64 = (1n << 64n) - 1n;

const SEQUENCE_BITS = 20n;

/** True when `value` is a bigint in the unsigned 64-bit range. */
export function isU64(value: unknown): value is bigint {
  return typeof value === 'bigint' && value >= 0n && value <= MAX_U64;
}

/** Throws InvalidArgumentError unless `value` is an unsigned 64-bit bigint. */
export function assertU64(value: unknown, what: string): asserts value is bigint {
  if (!isU64(value)) {
    throw new InvalidArgumentError(`${what} must be an unsigned 64-bit bigint, got ${describe(value)}`);
  }
}

/** Writes an unsigned 64-bit value as 8 big-endian bytes. */
export function u64ToBytes(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, false);
  return out;
}

/** Reads 8 big-endian bytes as an unsigned 64-bit value. */
export function bytesToU64(bytes: Uint8Array, offset = 0): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, false);
}

/** Formats an oid or tid as 16 lowercase hex digits. */
export function toHex(value: bigint): string {
  return value.toString(16).padStart(16, '0');
}

/** The smallest tid of the given wall-clock millisecond. */
export function tidFromMillis(ms: number): Tid {
  return BigInt(Math.max(0, Math.floor(ms))) << SEQUENCE_BITS;
}

/** The wall-clock time a tid was derived from. */
export function tidToDate(tid: Tid): Date {
  return new Date(Number(tid >> SEQUENCE_BITS));
}

/** The next tid after `previous` at wall-clock time `nowMs`: strictly greater than `previous`. */
export function nextTid(previous: Tid, nowMs: number): Tid {
  const fromClock = tidFromMillis(nowMs);
  return fromClock > previous ? fromClock : previous + 1n;
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value === 'object' ? Object.prototype.toString.call(value) : String(value);
}

/** A Map key standing for one oid: a number when the oid fits in 53 bits (a BigInt key costs ~0.8 µs to hash), else the bigint. */
export type OidKey = number | bigint;

const MAX_SAFE_OID = BigInt(Number.MAX_SAFE_INTEGER);

/** The Map key of `oid`. */
export function oidKey(oid: Oid): OidKey {
  return oid <= MAX_SAFE_OID ? Number(oid) : oid;
}
