/**
 * Block checksums of one chunk file (FORMAT.md "Chunk checksums"): every 64 KiB block of a chunk's
 * data has a CRC-32, kept in a trailer written right after the data:
 *
 *   data[dataLen] crc:u32 * ceil(dataLen / SUM_BLOCK) dataLen:u32 trailerCrc:u32
 *
 * (big-endian; trailerCrc covers the block crcs and dataLen). A draft keeps the sums of the chunks
 * it writes in memory (ChunkSums) and writes the trailer when the chunk is closed or prepared.
 */
import { crc32 } from 'node:zlib';

/** Bytes covered by one block checksum. */
export const SUM_BLOCK = 64 * 1024;
/** Bytes after the block crcs: dataLen u32 and the trailer's own crc u32. */
const TAIL = 8;

/** How many checksum blocks cover `dataLen` bytes. */
export function blockCount(dataLen: number): number {
  return Math.ceil(dataLen / SUM_BLOCK);
}

/** Size of the trailer that follows `dataLen` bytes of data. */
export function trailerSize(dataLen: number): number {
  return 4 * blockCount(dataLen) + TAIL;
}

/** Bytes of a chunk file holding `dataLen` bytes of data. */
export function chunkFileSize(dataLen: number): number {
  return dataLen + trailerSize(dataLen);
}

/** CRC-32 of `bytes` (unsigned). */
export function blockCrc(bytes: Uint8Array): number {
  return crc32(bytes) >>> 0;
}

const zeroCrcs = new Map<number, number>();
/** CRC-32 of `length` zero bytes (cached: only a full block and a few tail lengths occur). */
export function zeroCrc(length: number): number {
  let crc = zeroCrcs.get(length);
  if (crc === undefined) {
    crc = blockCrc(new Uint8Array(length));
    if (zeroCrcs.size < 64) zeroCrcs.set(length, crc);
  }
  return crc;
}

/** Encodes the trailer for `crcs` over `dataLen` bytes. */
export function encodeTrailer(crcs: Uint32Array, dataLen: number): Buffer {
  const out = Buffer.alloc(trailerSize(dataLen));
  let at = 0;
  for (const crc of crcs) at = out.writeUInt32BE(crc, at);
  at = out.writeUInt32BE(dataLen, at);
  out.writeUInt32BE(blockCrc(out.subarray(0, at)), at);
  return out;
}

/**
 * Decodes a trailer read from offset `dataLen`; null when it does not check (wrong length, wrong
 * recorded length, or a bad crc).
 */
export function decodeTrailer(bytes: Uint8Array, dataLen: number): Uint32Array | null {
  const size = trailerSize(dataLen);
  if (bytes.length !== size) return null;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.readUInt32BE(size - TAIL) !== dataLen) return null;
  if (view.readUInt32BE(size - 4) !== blockCrc(view.subarray(0, size - 4))) return null;
  const crcs = new Uint32Array(blockCount(dataLen));
  for (let i = 0; i < crcs.length; i++) crcs[i] = view.readUInt32BE(4 * i);
  return crcs;
}

/** Reads the data length recorded in a trailer's last 8 bytes (`tail`); the caller checks the rest. */
export function tailDataLength(tail: Uint8Array): number {
  return Buffer.from(tail.buffer, tail.byteOffset, tail.length).readUInt32BE(0);
}

/** The crcs of one chunk being written: blocks written whole are summed from the caller's bytes, others go stale. */
export class ChunkSums {
  #crcs: Uint32Array;
  #stale = new Set<number>();
  #length: number;

  private constructor(crcs: Uint32Array, length: number) {
    this.#crcs = crcs;
    this.#length = length;
  }

  /** The sums of a chunk of `length` zero bytes. */
  static zeros(length: number): ChunkSums {
    const sums = new ChunkSums(new Uint32Array(0), 0);
    sums.resize(length);
    return sums;
  }

  /** The sums loaded from a chunk's trailer. */
  static of(crcs: Uint32Array, length: number): ChunkSums {
    return new ChunkSums(crcs, length);
  }

  /** The chunk's data length. */
  get length(): number {
    return this.#length;
  }

  /** Grows (the new bytes are zeros) or cuts the chunk's data to `length`. */
  resize(length: number): void {
    const old = this.#length;
    if (length === old) return;
    const blocks = blockCount(length);
    const crcs = new Uint32Array(blocks);
    crcs.set(this.#crcs.subarray(0, Math.min(blocks, this.#crcs.length)));
    if (length > old) {
      // the old last block, if partial, now holds zeros after its data: recomputed later
      const first = Math.floor(old / SUM_BLOCK);
      if (old % SUM_BLOCK !== 0) this.#stale.add(first);
      for (let b = Math.ceil(old / SUM_BLOCK); b < blocks; b++) {
        if (!this.#stale.has(b)) crcs[b] = zeroCrc(Math.min(SUM_BLOCK, length - b * SUM_BLOCK));
      }
    } else {
      for (const b of this.#stale) if (b >= blocks) this.#stale.delete(b);
      if (length % SUM_BLOCK !== 0) this.#stale.add(blocks - 1);
    }
    this.#crcs = crcs;
    this.#length = length;
  }

  /** Marks the blocks of `[offset, offset + length)` stale (before a write that may fail half-way). */
  invalidate(offset: number, length: number): void {
    for (let b = Math.floor(offset / SUM_BLOCK); b * SUM_BLOCK < offset + length; b++) this.#stale.add(b);
  }

  /** Records that `source` was written at `offset` (inside the current length). */
  wrote(source: Uint8Array, offset: number): void {
    const end = offset + source.length;
    for (let b = Math.floor(offset / SUM_BLOCK); b * SUM_BLOCK < end; b++) {
      const from = b * SUM_BLOCK;
      const to = Math.min(from + SUM_BLOCK, this.#length);
      if (from >= offset && to <= end) {
        this.#crcs[b] = blockCrc(source.subarray(from - offset, to - offset));
        this.#stale.delete(b);
      } else {
        this.#stale.add(b);
      }
    }
  }

  /** Blocks whose crc must be computed from the file before the trailer is written. */
  stale(): number[] {
    return [...this.#stale];
  }

  /** Sets a stale block's crc, computed from the file. */
  set(block: number, crc: number): void {
    this.#crcs[block] = crc;
    this.#stale.delete(block);
  }

  /** The trailer bytes (every block must be current). */
  trailer(): Buffer {
    if (this.#stale.size > 0) throw new Error('chunk sums: stale blocks left');
    return encodeTrailer(this.#crcs, this.#length);
  }
}
