/** Sealing: the active segment's index becomes an on-disk trailer, and a new active segment follows it. */
import { CorruptionError } from '@handlerton/framework';
import { ActiveSegment } from './active-segment.js';
import type { FileIO } from './file-io.js';
import type { PageCache } from './page-cache.js';
import { readFooter, SealedSegment } from './sealed-segment.js';
import { TrailerWriter } from './trailer-writer.js';

/** Where the next active segment goes. */
export interface SealTarget {
  readonly dir: string;
  readonly databaseId: bigint;
  readonly preallocChunk: number;
}

/**
 * Writes `old`'s index as a sorted trailer after its data, cuts the file there and fsyncs it, then
 * creates the next active segment (published by rename + directory fsync). Only then may commits go
 * to the new segment: a crash before the trailer's fsync leaves `old` an active segment with a torn
 * tail; after it, a sealed newest segment for which open creates the next one.
 */
export async function sealSegment(
  io: FileIO,
  old: ActiveSegment,
  cache: PageCache,
  target: SealTarget,
): Promise<{ sealed: SealedSegment; next: ActiveSegment }> {
  const { fd, path } = old.file;
  const { keys, entries, largeKeys, largeEntries } = old.sortedIndex();
  const writer = new TrailerWriter(io, fd, path, old.publishedEnd, keys.length + largeKeys.length);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const e = entries[i]!;
    writer.add(Math.floor(key / 0x100000000), key >>> 0, e.tid, e.oldest, e.off, e.deleted);
    if (i % 65536 === 65535) await new Promise<void>((resolve) => setImmediate(resolve)); // readers keep going
  }
  for (let i = 0; i < largeKeys.length; i++) {
    const key = largeKeys[i]!;
    const e = largeEntries[i]!;
    writer.add(Number(key >> 32n), Number(key & 0xffffffffn), e.tid, e.oldest, e.off, e.deleted);
  }
  const size = writer.finish({
    dataEnd: old.publishedEnd,
    minTid: old.minTid,
    maxTid: old.maxTid,
    maxOid: old.maxOid < 0n ? 0n : old.maxOid,
    txnCount: old.txnCount,
  });
  io.truncate(fd, size, path);
  await io.fsync(fd, path);
  const footer = readFooter(io, fd, path, size);
  if (!footer) throw new CorruptionError('sealed trailer did not read back', path, size);
  const sealed = SealedSegment.load(io, old.file, old.header, footer, size, cache);
  const next = await ActiveSegment.create(io, target.dir, old.header.seq + 1, old.header.seq, target.databaseId, target.preallocChunk);
  return { sealed, next };
}
