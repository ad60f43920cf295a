/** Pack phase 2 for one transaction: copies the kept records of a checked transaction into the output format. */
import { decodeRefs, type BlobRef } from '@handlerton/framework';
import {
  RECORD_FLAG_DELETE,
  RECORD_HEADER_SIZE,
  RECORD_TRAILER_SIZE,
  STATUS_PACKED,
  TXN_HEADER_SIZE,
  TXN_TRAILER_SIZE,
} from './constants.js';
import { compareU64 } from './index-entry.js';
import { crc32 } from './crc.js';
import type { SlotTable } from './slot-table.js';
import { writeOffset } from './txn-format.js';

/** Reusable buffers of the copy loop. */
export class CopyScratch {
  out = Buffer.allocUnsafe(1 << 20);
  crcs = Buffer.allocUnsafe(4096);

  /** Makes room for a transaction of `size` bytes with `records` records. */
  ensure(size: number, records: number): void {
    if (size > this.out.length) this.out = Buffer.allocUnsafe(Math.max(size, this.out.length * 2));
    if (records * 4 > this.crcs.length) this.crcs = Buffer.allocUnsafe(Math.max(records * 4, this.crcs.length * 2));
  }
}

/** What copying one transaction produced. */
export interface CopiedTxn {
  /** The output transaction (a view of the scratch), or null when it is dropped. */
  readonly bytes: Buffer | null;
  /** Records dropped. */
  readonly removed: number;
}

/**
 * Copies transaction `view` (already checked) to output offset `outPos`: keeps a record when its
 * oid has a slot and either the transaction is after the pack time or the record is the slot's
 * revision at the pack time; patches `prev` and `txnOff`, recomputes checksums, updates slots, and
 * pushes the blob references of dropped records to `blobs`.
 */
export function copyTxn(
  view: Buffer,
  outPos: number,
  packHi: number,
  packLo: number,
  slots: SlotTable,
  scratch: CopyScratch,
  blobs: BlobRef[],
): CopiedTxn {
  const total = view.readUInt32BE(4);
  const tidHi = view.readUInt32BE(8);
  const tidLo = view.readUInt32BE(12);
  const afterPack = compareU64(view, 8, packHi, packLo) > 0;
  const metaEnd = TXN_HEADER_SIZE + view.readUInt16BE(18) + view.readUInt16BE(20) + view.readUInt32BE(22);
  const count = view.readUInt32BE(26);
  scratch.ensure(total, count);
  const out = scratch.out;
  const crcs = scratch.crcs;
  view.copy(out, 0, 0, metaEnd);
  let q = metaEnd;
  let p = metaEnd;
  let kept = 0;
  let removed = 0;
  for (let i = 0; i < count; i++) {
    const refsLen = view.readUInt32BE(p + 33);
    const size = RECORD_HEADER_SIZE + refsLen + view.readUInt32BE(p + 37) + RECORD_TRAILER_SIZE;
    const slot = slots.find(view.readUInt32BE(p), view.readUInt32BE(p + 4));
    const deleted = (view.readUInt8(p + 32) & RECORD_FLAG_DELETE) !== 0;
    if (slot >= 0 && (afterPack || slots.keepsAtPackTime(slot, tidHi, tidLo))) {
      view.copy(out, q, p, p + size - RECORD_TRAILER_SIZE);
      writeOffset(out, q + 16, slots.offsetOf(slot));
      writeOffset(out, q + 24, outPos);
      const crc = crc32(out.subarray(q, q + size - RECORD_TRAILER_SIZE));
      out.writeUInt32BE(crc, q + size - RECORD_TRAILER_SIZE);
      crcs.writeUInt32BE(crc, kept * 4);
      slots.setCopied(slot, outPos + q, tidHi, tidLo, deleted);
      kept++;
      q += size;
    } else {
      removed++;
      if (!deleted && refsLen > 8) {
        for (const b of decodeRefs(view.subarray(p + RECORD_HEADER_SIZE, p + RECORD_HEADER_SIZE + refsLen)).blobs) blobs.push(b);
      }
    }
    p += size;
  }
  if (kept === 0 && !afterPack) return { bytes: null, removed };
  const outTotal = q + TXN_TRAILER_SIZE;
  out.writeUInt32BE(outTotal, 4);
  if (!afterPack) out.writeUInt8(STATUS_PACKED, 16);
  out.writeUInt32BE(kept, 26);
  const headCrc = crc32(out.subarray(0, metaEnd));
  out.writeUInt32BE(kept === 0 ? headCrc : crc32(crcs.subarray(0, kept * 4), headCrc), q);
  out.writeUInt32BE(outTotal, q + 4);
  return { bytes: out.subarray(0, outTotal), removed };
}
