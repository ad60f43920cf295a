/**
 * A draft's chunk file opened for writing: its trailer is taken off while it is written (its sums
 * live in memory) and written back when the chunk is closed or prepared (FORMAT.md "Chunk checksums").
 */
import { CorruptionError } from '@handlerton/framework';
import { blockCrc, ChunkSums, chunkFileSize, decodeTrailer, SUM_BLOCK, tailDataLength, trailerSize } from './chunk-sums.js';
import { join } from 'node:path';
import { hasCode } from './fs-ops.js';
import type { FsOps } from './fs-ops.js';
import { chunkName } from './layout.js';

/** Parallel link(2) calls while sharing a base revision. */
const LINKS_IN_FLIGHT = 8;

/**
 * Reads and checks the trailer of the sealed chunk file `fd` (its data length comes from the
 * trailer's tail). CorruptionError naming `path` when the file is torn or the trailer does not check.
 */
export async function readSeal(ops: FsOps, fd: number, path: string): Promise<{ crcs: Uint32Array; dataLen: number }> {
  const size = await ops.fsize(fd);
  const tail = Buffer.alloc(8);
  if (size < 8 || (await ops.readFully(fd, tail, 0, 8, size - 8)) < 8) {
    throw new CorruptionError('blob chunk file has no checksum trailer (torn or short)', path, 0);
  }
  const dataLen = tailDataLength(tail);
  if (chunkFileSize(dataLen) !== size) throw new CorruptionError('blob chunk file size does not match its trailer', path, size);
  const trailer = Buffer.alloc(trailerSize(dataLen));
  await ops.readFully(fd, trailer, 0, trailer.length, dataLen);
  const crcs = decodeTrailer(trailer, dataLen);
  if (crcs === null) throw new CorruptionError('blob chunk checksum trailer is damaged', path, dataLen);
  return { crcs, dataLen };
}

/**
 * Opens the trailer of the chunk file `fd` (written and closed before) for writing: checks it,
 * cuts the file to its data and returns the sums. CorruptionError naming `path` when it does not check.
 */
export async function unsealChunk(ops: FsOps, fd: number, path: string): Promise<ChunkSums> {
  const { crcs, dataLen } = await readSeal(ops, fd, path);
  await ops.ftruncate(fd, dataLen);
  return ChunkSums.of(crcs, dataLen);
}

/** Computes the stale blocks of `sums` from the file, then writes the trailer after the data. */
export async function sealChunk(ops: FsOps, fd: number, sums: ChunkSums): Promise<void> {
  const length = sums.length;
  const stale = sums.stale();
  if (stale.length > 0) {
    const scratch = Buffer.allocUnsafe(SUM_BLOCK);
    for (const block of stale) {
      const start = block * SUM_BLOCK;
      const bytes = scratch.subarray(0, Math.min(SUM_BLOCK, length - start));
      const got = await ops.readFully(fd, bytes, 0, bytes.length, start);
      bytes.fill(0, got);
      sums.set(block, blockCrc(bytes));
    }
  }
  const trailer = sums.trailer();
  await ops.writeFully(fd, trailer, 0, trailer.length, length);
  await ops.ftruncate(fd, length + trailer.length);
}

/**
 * Hard-links the chunk files `ranges` (runs of chunk indices; holes have no file) of the revision
 * in `baseDir` into the draft `dir`, copying where links are refused. Returns the indices copied
 * (the draft owns those files). Raw errors escape.
 */
export async function shareChunks(ops: FsOps, baseDir: string, dir: string, ranges: Iterator<[number, number]>): Promise<number[]> {
  const copied: number[] = [];
  let range = ranges.next();
  let next = range.done === true ? 0 : range.value[0];
  const take = (): number | null => {
    while (range.done !== true && next >= range.value[1]) {
      range = ranges.next();
      if (range.done !== true) next = range.value[0];
    }
    return range.done === true ? null : next++;
  };
  const worker = async (): Promise<void> => {
    for (let index = take(); index !== null; index = take()) {
      const from = join(baseDir, chunkName(index));
      const to = join(dir, chunkName(index));
      try {
        await ops.link(from, to);
      } catch (error) {
        if (!hasCode(error, 'EPERM', 'EXDEV', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS')) throw error;
        await ops.copyFile(from, to);
        copied.push(index);
      }
    }
  };
  await Promise.all(Array.from({ length: LINKS_IN_FLIGHT }, worker));
  return copied;
}
