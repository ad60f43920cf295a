/**
 * A compact binary form of RecordRefs, for engines that store refs next to a record's data.
 *
 *   u32 oidCount | u64 oid * oidCount | u32 blobCount |
 *   (u16 nameLength | utf8 name | u64 blobId | u64 revision) * blobCount
 *
 * All integers big-endian. An empty RecordRefs encodes to 8 zero bytes.
 */
import { CorruptionError } from './errors.js';
import type { BlobRef, RecordRefs } from './records.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes refs to bytes. */
export function encodeRefs(refs: RecordRefs): Uint8Array {
  const names = refs.blobs.map((b) => encoder.encode(b.handlerton));
  const size = 8 + refs.oids.length * 8 + names.reduce((n, name) => n + 2 + name.length + 16, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  view.setUint32(at, refs.oids.length, false);
  at += 4;
  for (const oid of refs.oids) {
    view.setBigUint64(at, oid, false);
    at += 8;
  }
  view.setUint32(at, refs.blobs.length, false);
  at += 4;
  refs.blobs.forEach((blob, i) => {
    const name = names[i]!;
    view.setUint16(at, name.length, false);
    out.set(name, at + 2);
    at += 2 + name.length;
    view.setBigUint64(at, blob.blobId, false);
    view.setBigUint64(at + 8, blob.revision, false);
    at += 16;
  });
  return out;
}

/** Decodes bytes made by encodeRefs; CorruptionError when they are malformed. */
export function decodeRefs(bytes: Uint8Array): RecordRefs {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number): void => {
    if (at + n > bytes.length) throw new CorruptionError(`record refs truncated at byte ${at}`);
  };
  need(4);
  const oidCount = view.getUint32(at, false);
  at += 4;
  need(oidCount * 8);
  const oids: bigint[] = [];
  for (let i = 0; i < oidCount; i++, at += 8) oids.push(view.getBigUint64(at, false));
  need(4);
  const blobCount = view.getUint32(at, false);
  at += 4;
  const blobs: BlobRef[] = [];
  for (let i = 0; i < blobCount; i++) {
    need(2);
    const nameLength = view.getUint16(at, false);
    need(2 + nameLength + 16);
    const handlerton = decoder.decode(bytes.subarray(at + 2, at + 2 + nameLength));
    at += 2 + nameLength;
    blobs.push(Object.freeze({ handlerton, blobId: view.getBigUint64(at, false), revision: view.getBigUint64(at + 8, false) }));
    at += 16;
  }
  if (at !== bytes.length) throw new CorruptionError(`record refs have ${bytes.length - at} trailing bytes`);
  return Object.freeze({ oids: Object.freeze(oids), blobs: Object.freeze(blobs) });
}
