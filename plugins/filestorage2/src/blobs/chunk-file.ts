/**
 * A draft's chunk file opened for writing: its trailer is taken off while it is written (its sums
 * live in memory) and written back when the chunk is closed or prepared (FORMAT.md "Chunk checksums").
 */
import { CorruptionError } from '@handlerton/framework';
import { blockCrc, ChunkSums, chunkFileSize, decodeTrailer, SUM_BLOCK, tailDataLength, trailerSize } from './chunk-sums.js';
import type { FsOps } from './fs-ops.js';

/**
 * Opens the trailer of the chunk file `fd` (written and closed before): checks it, cuts the file
 * to its data and returns the sums. CorruptionError naming `path` when the trailer does not check.
 */
export async function unsealChunk(ops: FsOps, fd: number, path: string): Promise<ChunkSums> {
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
