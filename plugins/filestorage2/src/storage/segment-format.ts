/** Encoding of the 64-byte segment header and the 80-byte sealed-segment footer (FORMAT.md). */
import { CorruptionError } from '@handlerton/framework';
import {
  FOOTER_MAGIC,
  FOOTER_SIZE,
  FORMAT_VERSION,
  SEGMENT_HEADER_SIZE,
  SEGMENT_FLAG_PREV_END,
  SEGMENT_MAGIC,
} from './constants.js';
import { crc32 } from './crc.js';

/** Fields of a segment header. */
export interface SegmentHeader {
  readonly seq: number;
  readonly gen: number;
  /** Lowest seq this segment replaces (pack output), else equal to `seq`. */
  readonly coversLo: number;
  /** Seq of the segment before this one in the chain when it was created (0 = none). */
  readonly prevSeq: number;
  readonly databaseId: bigint;
  /** Flags: bit 0 = written by pack, SEGMENT_FLAG_SYNC_MARKS, SEGMENT_FLAG_PREV_END. */
  readonly flags: number;
  /** A pack output's pack horizon (its pack tid, or a higher one an input carried); 0n otherwise. */
  readonly packTid: bigint;
  /**
   * With flag SEGMENT_FLAG_PREV_END: the data end of segment `prevSeq` when commits moved on to this
   * one, modulo 2^32 (the u32 at byte 56); otherwise 0.
   */
  readonly prevDataEnd?: number;
}

/** The low 32 bits of a file offset, as a segment header stores a previous segment's data end. */
export function dataEndLow32(offset: number): number {
  return offset % 0x100000000;
}

/** Encodes a segment header. */
export function encodeSegmentHeader(h: SegmentHeader): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_SIZE);
  SEGMENT_MAGIC.copy(b, 0);
  b.writeUInt16BE(FORMAT_VERSION, 8);
  b.writeUInt16BE(h.flags, 10);
  // The pack tid lives in the two reserved u32 fields: high half at 12, low half at 28.
  b.writeUInt32BE(Number(h.packTid >> 32n), 12);
  b.writeUInt32BE(Number(h.packTid & 0xffffffffn), 28);
  b.writeBigUInt64BE(BigInt(h.seq), 16);
  b.writeUInt32BE(h.gen, 24);
  b.writeBigUInt64BE(BigInt(h.coversLo), 32);
  b.writeBigUInt64BE(BigInt(h.prevSeq), 40);
  b.writeBigUInt64BE(h.databaseId, 48);
  if ((h.flags & SEGMENT_FLAG_PREV_END) !== 0) b.writeUInt32BE(dataEndLow32(h.prevDataEnd ?? 0), 56);
  b.writeUInt32BE(crc32(b.subarray(0, 60)), 60);
  return b;
}

/** Decodes and checks a segment header; CorruptionError when damaged. */
export function decodeSegmentHeader(b: Buffer, file: string): SegmentHeader {
  if (b.length < SEGMENT_HEADER_SIZE) throw new CorruptionError('segment header truncated', file, 0);
  if (!b.subarray(0, 8).equals(SEGMENT_MAGIC)) throw new CorruptionError('bad segment magic', file, 0);
  if (b.readUInt32BE(60) !== crc32(b.subarray(0, 60))) throw new CorruptionError('segment header checksum mismatch', file, 60);
  const version = b.readUInt16BE(8);
  if (version !== FORMAT_VERSION) throw new CorruptionError(`unsupported segment format version ${version}`, file, 8);
  return {
    flags: b.readUInt16BE(10),
    seq: Number(b.readBigUInt64BE(16)),
    gen: b.readUInt32BE(24),
    coversLo: Number(b.readBigUInt64BE(32)),
    prevSeq: Number(b.readBigUInt64BE(40)),
    databaseId: b.readBigUInt64BE(48),
    packTid: (BigInt(b.readUInt32BE(12)) << 32n) | BigInt(b.readUInt32BE(28)),
    prevDataEnd: (b.readUInt16BE(10) & SEGMENT_FLAG_PREV_END) !== 0 ? b.readUInt32BE(56) : 0,
  };
}

/** Fields of a sealed segment's footer. */
export interface SegmentFooter {
  /** End of the last transaction (start of the index padding). */
  readonly dataEnd: number;
  /** Offset of the first index page (4 KiB aligned). */
  readonly indexOff: number;
  /** Number of index entries. */
  readonly count: number;
  readonly minTid: bigint;
  readonly maxTid: bigint;
  readonly maxOid: bigint;
  readonly txnCount: number;
  readonly bloomBits: number;
  readonly bloomK: number;
  /** CRC of the page-CRC table, fences and bloom (in that order). */
  readonly metaCrc: number;
}

/** Encodes a footer. */
export function encodeFooter(f: SegmentFooter): Buffer {
  const b = Buffer.alloc(FOOTER_SIZE);
  FOOTER_MAGIC.copy(b, 0);
  b.writeBigUInt64BE(BigInt(f.dataEnd), 8);
  b.writeBigUInt64BE(BigInt(f.indexOff), 16);
  b.writeBigUInt64BE(BigInt(f.count), 24);
  b.writeBigUInt64BE(f.minTid, 32);
  b.writeBigUInt64BE(f.maxTid, 40);
  b.writeBigUInt64BE(f.maxOid, 48);
  b.writeBigUInt64BE(BigInt(f.txnCount), 56);
  b.writeUInt32BE(f.bloomBits, 64);
  b.writeUInt8(f.bloomK, 68);
  b.writeUInt32BE(f.metaCrc, 72);
  b.writeUInt32BE(crc32(b.subarray(0, 76)), 76);
  return b;
}

/** Decodes a footer; null when the bytes are not a valid footer (magic or checksum). */
export function tryDecodeFooter(b: Buffer): SegmentFooter | null {
  if (b.length < FOOTER_SIZE || !b.subarray(0, 8).equals(FOOTER_MAGIC)) return null;
  if (b.readUInt32BE(76) !== crc32(b.subarray(0, 76))) return null;
  return {
    dataEnd: Number(b.readBigUInt64BE(8)),
    indexOff: Number(b.readBigUInt64BE(16)),
    count: Number(b.readBigUInt64BE(24)),
    minTid: b.readBigUInt64BE(32),
    maxTid: b.readBigUInt64BE(40),
    maxOid: b.readBigUInt64BE(48),
    txnCount: Number(b.readBigUInt64BE(56)),
    bloomBits: b.readUInt32BE(64),
    bloomK: b.readUInt8(68),
    metaCrc: b.readUInt32BE(72),
  };
}

/** Byte layout of a sealed segment's trailer, derived from its footer. */
export interface TrailerLayout {
  readonly pages: number;
  readonly pageCrcOff: number;
  readonly fenceOff: number;
  readonly bloomOff: number;
  readonly bloomBytes: number;
  readonly footerOff: number;
}

/** Computes where each trailer region lives for `count` entries starting at `indexOff`. */
export function trailerLayout(indexOff: number, count: number, bloomBits: number, entrySize: number, pageSize: number): TrailerLayout {
  const perPage = pageSize / entrySize;
  const pages = Math.ceil(count / perPage);
  const pageCrcOff = indexOff + count * entrySize;
  const fenceOff = pageCrcOff + pages * 4;
  const bloomOff = fenceOff + pages * 8;
  const bloomBytes = Math.ceil(bloomBits / 8);
  return { pages, pageCrcOff, fenceOff, bloomOff, bloomBytes, footerOff: bloomOff + bloomBytes };
}
