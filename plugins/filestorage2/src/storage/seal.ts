/**
 * Sealing: the active segment's index becomes an on-disk trailer. Commits move on to a new active
 * segment first (`createNextSegment`, under the commit lock); the old segment's trailer is then
 * written in steps that yield to the event loop (`writeTrailer`), while commits go on.
 */
import { CorruptionError, StorageClosedError } from '@handlerton/framework';
import { ActiveSegment } from './active-segment.js';
import type { FileIO } from './file-io.js';
import type { PageCache } from './page-cache.js';
import { RunMerge } from './run-merge.js';
import { readFooter, SealedSegment } from './sealed-segment.js';
import { TrailerWriter } from './trailer-writer.js';

/** Where the next active segment goes. */
export interface SealTarget {
  readonly dir: string;
  readonly databaseId: bigint;
  readonly preallocChunk: number;
}

/** Index entries written between two yields to the event loop. */
const ENTRIES_PER_STEP = 8192;
/** Entries sorted between two yields when the active index was not filled in oid order. */
const RUN_LENGTH = 32768;

/**
 * Creates the active segment that follows `old` (published by rename + directory fsync, so commits
 * acknowledged in it survive a crash). `old` keeps its data; its trailer comes later.
 */
export function createNextSegment(io: FileIO, old: ActiveSegment, target: SealTarget): Promise<ActiveSegment> {
  return ActiveSegment.create(io, target.dir, old.header.seq + 1, old.header.seq, target.databaseId, target.preallocChunk, old.publishedEnd);
}

/**
 * Writes `old`'s index as a sorted trailer after its published data, cuts the file there, fsyncs
 * it, then writes the footer and fsyncs again; returns the sealed view. `old` must receive no more
 * commits. A crash at any point before the footer is durable leaves `old` without a valid footer:
 * open scans it (the partial trailer is a torn tail) and seals it again. `stopped` is checked at
 * every step (storage crashed or failed).
 */
export async function writeTrailer(io: FileIO, old: ActiveSegment, cache: PageCache, stopped: () => boolean): Promise<SealedSegment> {
  const { fd, path } = old.file;
  const index = old.index;
  // sorting a million oids at once would hold the event loop: sorted runs, merged while writing
  const runs = await index.sortedRuns(RUN_LENGTH, () => step(stopped));
  const large = index.largeSorted();
  await step(stopped);
  const writer = new TrailerWriter(io, fd, path, old.publishedEnd, index.size);
  const merge = new RunMerge(runs);
  for (let i = 1, id = merge.next(); id >= 0; i++, id = merge.next()) {
    const key = merge.key;
    writer.add(Math.floor(key / 0x100000000), key >>> 0, index.tidOf(id), index.oldestOf(id), index.offOf(id), index.deletedOf(id));
    if (i % ENTRIES_PER_STEP === 0) await step(stopped);
  }
  for (let i = 0; i < large.keys.length; i++) {
    const key = large.keys[i]!;
    const id = large.ids[i]!;
    writer.add(Number(key >> 32n), Number(key & 0xffffffffn), index.tidOf(id), index.oldestOf(id), index.offOf(id), index.deletedOf(id));
  }
  const { size, footer: footerBytes } = writer.finish({
    dataEnd: old.publishedEnd,
    minTid: old.minTid,
    maxTid: old.maxTid,
    maxOid: old.maxOid < 0n ? 0n : old.maxOid,
    txnCount: old.txnCount,
  });
  // Everything but the footer is made durable first (the footer's place reads as zeros until then),
  // so a valid footer always stands in front of a complete trailer.
  io.truncate(fd, size, path);
  await io.fsync(fd, path);
  if (stopped()) throw new StorageClosedError('filestorage2 storage closed while sealing');
  io.writeAt(fd, footerBytes, size - footerBytes.length, path);
  await io.fsync(fd, path);
  if (stopped()) throw new StorageClosedError('filestorage2 storage closed while sealing');
  const footer = readFooter(io, fd, path, size);
  if (!footer) throw new CorruptionError('sealed trailer did not read back', path, size);
  return SealedSegment.load(io, old.file, old.header, footer, size, cache);
}

async function step(stopped: () => boolean): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve)); // commits and readers keep going
  if (stopped()) throw new StorageClosedError('filestorage2 storage closed while sealing');
}
