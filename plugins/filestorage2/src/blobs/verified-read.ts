/** Reading a sealed chunk file (data + checksum trailer) so that every byte returned was verified. */
import { blockCrc, SUM_BLOCK } from './chunk-sums.js';
import type { FsOps } from './fs-ops.js';

/** A sealed chunk open for verified reads. */
export interface SealedChunk {
  readonly fd: number;
  /** The block crcs from its trailer (checked). */
  readonly crcs: Uint32Array;
  /** Its data length. */
  readonly dataLen: number;
  /** Its index in the blob (keys the block cache). */
  readonly index: number;
}

/** Builds the error for damage `what` at `chunkOffset` of a chunk. */
export type DamageReporter = (what: string, index: number, chunkOffset: number) => Error;

/** The last block verified but only partly returned: small sequential reads check each block once. */
export class LastBlock {
  index = -1;
  block = -1;
  bytes: Buffer | null = null;
}

/**
 * Fills `out` with the chunk's bytes from `offset`, verifying every block it touches: whole blocks
 * are read into `out` and checked there, a block covered in part is read and checked whole.
 */
export async function readVerified(
  ops: FsOps,
  chunk: SealedChunk,
  out: Uint8Array,
  offset: number,
  cache: LastBlock,
  damage: DamageReporter,
): Promise<void> {
  const { dataLen } = chunk;
  const end = offset + out.length;
  if (end > dataLen) throw damage('chunk data is shorter than the blob says', chunk.index, dataLen);
  let at = offset;
  while (at < end) {
    const block = Math.floor(at / SUM_BLOCK);
    const blockStart = block * SUM_BLOCK;
    if (at === blockStart && Math.min(blockStart + SUM_BLOCK, dataLen) <= end) {
      let runEnd = blockStart;
      while (runEnd < end && Math.min(runEnd + SUM_BLOCK, dataLen) <= end) runEnd = Math.min(runEnd + SUM_BLOCK, dataLen);
      const into = out.subarray(at - offset, runEnd - offset);
      await readExactly(ops, chunk, into, at, damage);
      for (let b = block; b * SUM_BLOCK < runEnd; b++) {
        const from = b * SUM_BLOCK - at;
        check(chunk, into.subarray(from, Math.min(from + SUM_BLOCK, into.length)), b, damage);
      }
      at = runEnd;
    } else {
      const bytes = await wholeBlock(ops, chunk, block, cache, damage);
      const to = Math.min(end, blockStart + bytes.length);
      out.set(bytes.subarray(at - blockStart, to - blockStart), at - offset);
      at = to;
    }
  }
}

async function wholeBlock(ops: FsOps, chunk: SealedChunk, block: number, cache: LastBlock, damage: DamageReporter): Promise<Buffer> {
  if (cache.bytes !== null && cache.index === chunk.index && cache.block === block) return cache.bytes;
  const start = block * SUM_BLOCK;
  const bytes = Buffer.allocUnsafe(Math.min(SUM_BLOCK, chunk.dataLen - start));
  await readExactly(ops, chunk, bytes, start, damage);
  check(chunk, bytes, block, damage);
  cache.index = chunk.index;
  cache.block = block;
  cache.bytes = bytes;
  return bytes;
}

async function readExactly(ops: FsOps, chunk: SealedChunk, into: Uint8Array, position: number, damage: DamageReporter): Promise<void> {
  const got = await ops.readFully(chunk.fd, into, 0, into.length, position);
  if (got < into.length) throw damage('chunk file is shorter than its revision says', chunk.index, position + got);
}

function check(chunk: SealedChunk, bytes: Uint8Array, block: number, damage: DamageReporter): void {
  if (blockCrc(bytes) !== chunk.crcs[block]) throw damage('checksum mismatch', chunk.index, block * SUM_BLOCK);
}
