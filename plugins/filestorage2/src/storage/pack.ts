/**
 * Pack: merges sealed segments into one. Phase 1 k-way merges the sorted input indexes into a
 * sorted slot file (which oids survive, and which revision is current at the pack tid); phase 2
 * copies the surviving records in transaction order, patching each slot with its new offset;
 * phase 3 turns the slot file into the output's trailer, syncs, and publishes by rename.
 */
import { join } from 'node:path';
import {
  CorruptionError,
  StorageClosedError,
  type BlobRef,
  type PackObserver,
  type PackResult,
} from '@handlerton/framework';
import { BLOOM_BITS_PER_KEY, BLOOM_K, ENTRY_FLAG_DELETE, INDEX_ENTRY_SIZE, PAGE_SIZE, SEGMENT_HEADER_SIZE } from './constants.js';
import { bloomAddHiLo } from './bloom.js';
import { crc32 } from './crc.js';
import type { TrailerFacts } from './trailer-writer.js';
import type { FileIO } from './file-io.js';
import { compareU64, splitU64 } from './index-entry.js';
import { segmentFileName } from './naming.js';
import type { PageCache } from './page-cache.js';
import { scanTxnFrames } from './record-io.js';
import { copyTxn, CopyScratch } from './pack-copy.js';
import { readFooter, SealedSegment } from './sealed-segment.js';
import { SegmentFile } from './segment-file.js';
import { encodeFooter, encodeSegmentHeader, type SegmentHeader } from './segment-format.js';
import { SlotTable } from './slot-table.js';

/** What a pack needs. */
export interface PackJob {
  readonly io: FileIO;
  readonly dir: string;
  /** Adjacent sealed segments, oldest first. */
  readonly inputs: readonly SealedSegment[];
  /** True when inputs[0] is the oldest live segment (delete markers may then be dropped). */
  readonly includesOldest: boolean;
  readonly packTid: bigint;
  /** Generation of the output file. */
  readonly gen: number;
  readonly databaseId: bigint;
  readonly observer: PackObserver | undefined;
  readonly cache: PageCache;
  /** Polled between steps: true aborts the pack (storage closing). */
  readonly shouldStop: () => boolean;
  /** Told how long each phase took (diagnostics). */
  readonly onPhases?: (phases: { mergeMs: number; copyMs: number; totalMs: number }) => void;
}

/** The output segment (already renamed into place) and the counts. */
export interface PackOutcome {
  readonly segment: SealedSegment | null;
  readonly result: PackResult;
}

const BLOB_BATCH = 256;
/** Phase 2 lets the event loop run after about this many input bytes. */
const YIELD_BYTES = 256 * 1024;

/** Streams one input's index pages in oid order. */
class IndexCursor {
  private page = -1;
  private n = 0;
  /** The current index page (owned by the cursor) and the byte offset of the current entry in it. */
  buf: Buffer = Buffer.alloc(0);
  at = -INDEX_ENTRY_SIZE;
  done = false;
  hi = 0;
  lo = 0;

  constructor(readonly seg: SealedSegment) {
    this.advance();
  }

  advance(): void {
    this.at += INDEX_ENTRY_SIZE;
    if (this.at >= this.n * INDEX_ENTRY_SIZE) {
      this.page++;
      if (this.page >= this.seg.pageCount) {
        this.done = true;
        return;
      }
      this.buf = this.seg.page(this.page, true);
      this.n = this.seg.entriesInPage(this.page);
      this.at = 0;
    }
    this.hi = this.buf.readUInt32BE(this.at);
    this.lo = this.buf.readUInt32BE(this.at + 4);
  }
}

async function pause(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Runs a pack job; on failure removes its temporary files and rethrows. */
export async function runPack(job: PackJob): Promise<PackOutcome> {
  const { io, dir, inputs, packTid } = job;
  const hi = inputs[inputs.length - 1]!;
  const lo = inputs[0]!;
  const outName = segmentFileName(hi.seq, job.gen);
  const outPath = join(dir, outName);
  const outTmp = `${outPath}.tmp`;
  const slotTmp = join(dir, `pack-${hi.seq.toString(16)}-g${job.gen}.slots.tmp`);
  let slotFd = -1;
  let outFd = -1;
  let renamed = false;
  const checkStop = (): void => {
    if (job.shouldStop()) throw new StorageClosedError('storage closed during pack');
  };
  const started = performance.now();
  try {
    slotFd = io.open(slotTmp, 'w+');
    const slots = new SlotTable(io, slotFd, slotTmp);
    let removedObjects = 0;

    // ---- phase 1: k-way merge of the input indexes (newest input wins on equal oids)
    const cursors = inputs.map((s) => new IndexCursor(s)).reverse(); // newest first
    const [packHi, packLo] = splitU64(packTid);
    const group: IndexCursor[] = [];
    let steps = 0;
    for (;;) {
      let minHi = -1;
      let minLo = -1;
      for (const c of cursors) {
        if (!c.done && (minHi < 0 || c.hi < minHi || (c.hi === minHi && c.lo < minLo))) {
          minHi = c.hi;
          minLo = c.lo;
        }
      }
      if (minHi < 0) break;
      group.length = 0;
      for (const c of cursors) if (!c.done && c.hi === minHi && c.lo === minLo) group.push(c);
      // the revision current at packTid: in the newest input holding one at or before packTid
      let keepHi = 0;
      let keepLo = 0;
      let currentDeleted = false;
      let found = false;
      for (const c of group) {
        const b = c.buf;
        if (compareU64(b, c.at + 8, packHi, packLo) <= 0) {
          keepHi = b.readUInt32BE(c.at + 8);
          keepLo = b.readUInt32BE(c.at + 12);
          currentDeleted = (b.readUInt16BE(c.at + 30) & ENTRY_FLAG_DELETE) !== 0;
          found = true;
          break;
        }
        if (compareU64(b, c.at + 16, packHi, packLo) <= 0) {
          let rec = c.seg.readRecord(b.readUIntBE(c.at + 24, 6));
          while (rec.tid > packTid) {
            if (rec.prev === 0) throw new CorruptionError('revision chain ends before its oldest revision', c.seg.path, rec.offset);
            rec = c.seg.readRecord(rec.prev);
          }
          [keepHi, keepLo] = splitU64(rec.tid);
          currentDeleted = rec.deleted;
          found = true;
          break;
        }
      }
      const first = group[0]!;
      const anyAfter = compareU64(first.buf, first.at + 8, packHi, packLo) > 0;
      let skip = false;
      if (found && currentDeleted && job.includesOldest) {
        if (!anyAfter) skip = true;
        keepHi = 0;
        keepLo = 0;
      }
      if (skip) removedObjects++;
      // slot: `oldest` holds the tid of the revision current at packTid (0 = none kept) until a record lands
      else slots.appendSlot(first.buf, first.at, keepHi, keepLo);
      for (const c of group) c.advance();
      if (++steps % 1024 === 0) {
        checkStop();
        await pause();
      }
    }
    slots.endAppend();

    const phase1Ms = performance.now() - started;
    // ---- phase 2: copy surviving records in transaction order
    outFd = io.open(outTmp, 'w+');
    // The output covers everything its inputs covered: an input that is itself a pack output reaches
    // down to its own coversLo (retired inputs may still be on disk and must never come back at open).
    const coversLo = inputs.reduce((low, seg) => (seg.header.coversLo < low ? seg.header.coversLo : low), lo.seq);
    // The output carries the pack horizon: this pack's tid, or a higher one an input already carried.
    const horizon = inputs.reduce((high, seg) => (seg.header.packTid > high ? seg.header.packTid : high), packTid);
    const header: SegmentHeader = { seq: hi.seq, gen: job.gen, coversLo, prevSeq: lo.header.prevSeq, databaseId: job.databaseId, flags: 1, packTid: horizon };
    io.writeAt(outFd, encodeSegmentHeader(header), 0, outTmp);
    let pos = SEGMENT_HEADER_SIZE;
    let removedRevisions = 0;
    let txnCount = 0;
    let minTid = 0n;
    let maxTid = 0n;
    let maxOid = 0n;
    const blobBatch: BlobRef[] = [];
    const out = new OutputBuffer(io, outFd, outTmp, pos);
    const scratch = new CopyScratch();
    for (const seg of inputs) {
      if (seg.footer.minTid > 0n && (minTid === 0n || seg.footer.minTid < minTid)) minTid = seg.footer.minTid;
      if (seg.footer.maxTid > maxTid) maxTid = seg.footer.maxTid;
      if (seg.footer.maxOid > maxOid) maxOid = seg.footer.maxOid;
      let sinceYield = 0;
      for (const { view } of scanTxnFrames(io, seg.fd, seg.path, SEGMENT_HEADER_SIZE, seg.footer.dataEnd)) {
        const copied = copyTxn(view, pos, packHi, packLo, slots, scratch, blobBatch);
        removedRevisions += copied.removed;
        if (copied.bytes) {
          out.write(copied.bytes);
          pos += copied.bytes.length;
          txnCount++;
        }
        sinceYield += view.length;
        if (sinceYield >= YIELD_BYTES) {
          sinceYield = 0;
          checkStop();
          await pause();
        }
      }
    }
    out.flush();
    slots.flush();
    checkStop();

    const phase2Ms = performance.now() - started - phase1Ms;
    // ---- phase 3: trailer from the slot file, sync, publish
    const dataEnd = pos;
    const size = await writeTrailerFromSlots(io, outFd, outTmp, slots, { dataEnd, minTid, maxTid, maxOid, txnCount });
    io.truncate(outFd, size, outTmp);
    await io.fsync(outFd, outTmp);
    io.closeQuietly(slotFd);
    slotFd = -1;
    io.unlink(slotTmp);
    checkStop();
    io.rename(outTmp, outPath);
    renamed = true;
    await io.fsyncDir(dir);
    // Blob references of removed revisions are released only now that the output is published: a pack
    // that stops earlier (close, I/O error, crash) leaves its inputs and must not have released anything.
    if (job.observer) {
      for (let i = 0; i < blobBatch.length; i += BLOB_BATCH) await job.observer.releaseBlobRefs(blobBatch.slice(i, i + BLOB_BATCH));
    }
    const footer = readFooter(io, outFd, outPath, size);
    if (!footer) throw new CorruptionError('pack output footer did not read back', outPath, size);
    const segment = SealedSegment.load(io, new SegmentFile(io, outFd, outPath, outName), header, footer, size, job.cache);
    const inputBytes = inputs.reduce((sum, s) => sum + s.fileSize, 0);
    job.onPhases?.({ mergeMs: Math.round(phase1Ms), copyMs: Math.round(phase2Ms), totalMs: Math.round(performance.now() - started) });
    return {
      segment,
      result: { removedRevisions, removedObjects, reclaimedBytes: Math.max(0, inputBytes - size) },
    };
  } catch (e) {
    if (slotFd >= 0) io.closeQuietly(slotFd);
    if (outFd >= 0) io.closeQuietly(outFd);
    try {
      io.unlink(slotTmp);
      if (!renamed) io.unlink(outTmp);
    } catch {
      // best effort: leftover .tmp files are removed at the next open
    }
    throw e;
  }
}

/** Sequential buffered writer for the pack output's data region. */
class OutputBuffer {
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;

  constructor(
    private readonly io: FileIO,
    private readonly fd: number,
    private readonly path: string,
    private pos: number,
  ) {}

  write(bytes: Buffer): void {
    if (this.used + bytes.length > this.buf.length) this.flush();
    if (bytes.length > this.buf.length) {
      this.io.writeAt(this.fd, bytes, this.pos, this.path);
      this.pos += bytes.length;
      return;
    }
    bytes.copy(this.buf, this.used);
    this.used += bytes.length;
  }

  flush(): void {
    if (this.used === 0) return;
    this.io.writeAt(this.fd, this.buf.subarray(0, this.used), this.pos, this.path);
    this.pos += this.used;
    this.used = 0;
  }
}

/**
 * Writes the output's trailer straight from the slot file: the slots are already index entries in
 * index-page layout, sorted, with the fences known; only page CRCs and the bloom filter are computed.
 */
async function writeTrailerFromSlots(io: FileIO, fd: number, path: string, slots: SlotTable, facts: TrailerFacts): Promise<number> {
  const indexOff = Math.ceil(facts.dataEnd / PAGE_SIZE) * PAGE_SIZE;
  if (indexOff > facts.dataEnd) io.writeAt(fd, Buffer.alloc(indexOff - facts.dataEnd), facts.dataEnd, path);
  const count = slots.size;
  const pages = slots.pageTotal;
  const bloomBits = Math.max(64, Math.ceil(count * BLOOM_BITS_PER_KEY));
  const bloom = new Uint8Array(Math.ceil(bloomBits / 8));
  const pageCrcs = Buffer.allocUnsafe(pages * 4);
  const chunkPages = 64;
  const buf = Buffer.allocUnsafe(chunkPages * PAGE_SIZE);
  const total = count * INDEX_ENTRY_SIZE;
  for (let from = 0, page = 0; from < total; from += buf.length) {
    const chunk = buf.subarray(0, Math.min(buf.length, total - from));
    slots.readRaw(chunk, from);
    for (let at = 0; at < chunk.length; at += INDEX_ENTRY_SIZE) {
      if (chunk.readUIntBE(at + 24, 6) === 0) {
        throw new CorruptionError(`pack found no record for a kept oid`, path, indexOff + from + at);
      }
      bloomAddHiLo(bloom, bloomBits, BLOOM_K, chunk.readUInt32BE(at), chunk.readUInt32BE(at + 4));
    }
    for (let at = 0; at < chunk.length; at += PAGE_SIZE, page++) {
      pageCrcs.writeUInt32BE(crc32(chunk.subarray(at, Math.min(at + PAGE_SIZE, chunk.length))), page * 4);
    }
    io.writeAt(fd, chunk, indexOff + from, path);
    await pause(); // one chunk (256 KiB of index) at a time: commits and reads keep running
  }
  const meta = Buffer.concat([pageCrcs, slots.fenceBytes(), bloom]);
  const footer = encodeFooter({
    dataEnd: facts.dataEnd,
    indexOff,
    count,
    minTid: facts.minTid,
    maxTid: facts.maxTid,
    maxOid: facts.maxOid,
    txnCount: facts.txnCount,
    bloomBits,
    bloomK: BLOOM_K,
    metaCrc: crc32(meta),
  });
  io.writeAt(fd, Buffer.concat([meta, footer]), indexOff + total, path);
  return indexOff + total + meta.length + footer.length;
}
