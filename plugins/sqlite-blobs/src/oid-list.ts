/** The oid list of a transaction row: ascending oids, 8 bytes big-endian each. */
import { CorruptionError, type Oid } from '@handlerton/framework';

/** Encodes oids (sorted ascending here) as 8-byte big-endian values. */
export function encodeOidList(oids: Iterable<Oid>): Uint8Array {
  const sorted = [...oids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out = Buffer.allocUnsafe(sorted.length * 8);
  sorted.forEach((oid, i) => out.writeBigUInt64BE(oid, i * 8));
  return out;
}

/** Decodes an oid list; CorruptionError when its length is not a multiple of 8. */
export function decodeOidList(bytes: Uint8Array): Oid[] {
  if (bytes.length % 8 !== 0) throw new CorruptionError(`transaction oid list has ${bytes.length} bytes, not a multiple of 8`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Oid[] = [];
  for (let at = 0; at < bytes.length; at += 8) out.push(view.getBigUint64(at, false));
  return out;
}
