/**
 * FileStorage2's own consistency check (`Storage.verify`), read-only: finds the segment files of a
 * storage directory the way open does (names, headers, pack replacement, footers), then checks every
 * segment (verify-segment.ts) and what holds across them (one database id, rising tids, one active
 * segment at the end). The active segment's bytes after its last whole transaction must be zeros
 * (preallocated space): anything else is a problem, even though open cuts it as a torn write.
 */
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptionError, VerifyCollector, type EngineVerifyReport, type VerifyObserver } from '@handlerton/framework';
import { FOOTER_MAGIC, FOOTER_SIZE, INDEX_ENTRY_SIZE, PAGE_SIZE, SEGMENT_HEADER_SIZE } from './constants.js';
import { isTemporaryFileName, parseSegmentFileName } from './naming.js';
import { decodeSegmentHeader, trailerLayout, tryDecodeFooter, type SegmentFooter, type SegmentHeader } from './segment-format.js';
import { checkTrailer, firstNonZero, readAt, walkLog } from './verify-segment.js';

interface SegmentCandidate {
  readonly path: string;
  readonly file: FileHandle;
  readonly size: number;
  readonly header: SegmentHeader;
  readonly footer: SegmentFooter | null;
  /** The last 80 bytes start with the footer magic and a non-zero crc (a footer was written). */
  readonly footerWritten: boolean;
}

/** Reads the footer at the end of a segment file; null when there is none whose layout ends the file. */
async function readFooter(file: FileHandle, size: number): Promise<{ footer: SegmentFooter | null; written: boolean }> {
  if (size < SEGMENT_HEADER_SIZE + FOOTER_SIZE) return { footer: null, written: false };
  const bytes = await readAt(file, size - FOOTER_SIZE, FOOTER_SIZE);
  const written = bytes.length === FOOTER_SIZE && bytes.subarray(0, 8).equals(FOOTER_MAGIC) && bytes.readUInt32BE(FOOTER_SIZE - 4) !== 0;
  const footer = tryDecodeFooter(bytes);
  if (footer === null) return { footer: null, written };
  const layout = trailerLayout(footer.indexOff, footer.count, footer.bloomBits, INDEX_ENTRY_SIZE, PAGE_SIZE);
  return { footer: layout.footerOff + FOOTER_SIZE === size ? footer : null, written };
}

/** Opens and reads the header and footer of every segment file of `dir`; problems for those that cannot be read. */
async function candidates(dir: string, c: VerifyCollector): Promise<SegmentCandidate[]> {
  const out: SegmentCandidate[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (isTemporaryFileName(name)) {
      c.count('temporary files skipped');
      continue;
    }
    const parsed = parseSegmentFileName(name);
    if (parsed === null) continue;
    const path = join(dir, name);
    const file = await open(path, 'r');
    try {
      const size = (await file.stat()).size;
      const header = decodeSegmentHeader(await readAt(file, 0, SEGMENT_HEADER_SIZE), path);
      if (header.seq !== parsed.seq || header.gen !== parsed.gen) c.problem(path, 16, 'segment header does not match its file name');
      const { footer, written } = await readFooter(file, size);
      out.push({ path, file, size, header, footer, footerWritten: written });
    } catch (error) {
      await file.close();
      if (!(error instanceof CorruptionError)) throw error;
      c.count('segments');
      c.problem(path, error.offset ?? 0, error.message);
    }
  }
  return out;
}

/** Checks the segment files of the storage directory `dir` without changing any file. */
export async function verifyStorageDirectory(dir: string, observer: VerifyObserver = {}): Promise<EngineVerifyReport> {
  const c = new VerifyCollector('filestorage2', observer);
  const all = await candidates(dir, c);
  try {
    const live = all.filter((s) => !all.some((o) => o !== s && o.header.gen > s.header.gen && o.header.coversLo <= s.header.seq && s.header.seq <= o.header.seq && o.footer !== null));
    live.sort((a, b) => a.header.seq - b.header.seq);
    const databaseId = live[0]?.header.databaseId;
    let lastTid = 0n;
    for (let i = 0; i < live.length; i++) {
      const s = live[i]!;
      c.count('segments');
      if (i > 0 && s.header.seq === live[i - 1]!.header.seq) c.problem(s.path, 16, 'two live segments share a sequence number');
      if (s.header.databaseId !== databaseId) c.problem(s.path, 48, 'segment belongs to another database');
      const last = i === live.length - 1;
      if (s.footer !== null) {
        const log = await walkLog(s.file, s.path, s.footer.dataEnd, lastTid, c);
        await checkTrailer(s.file, s.path, s.size, s.footer, log, c);
        lastTid = log.lastTid;
        continue;
      }
      if (s.footerWritten || !(s.header.gen === 0 && (last || i === live.length - 2))) {
        c.problem(s.path, Math.max(0, s.size - FOOTER_SIZE), 'sealed segment has no valid footer');
      } else if (!last) {
        c.problem(s.path, Math.max(0, s.size - FOOTER_SIZE), 'a segment before the active one was never sealed (a seal interrupted by a crash; a writable open seals it)');
      }
      const log = await walkLog(s.file, s.path, s.size, lastTid, c);
      lastTid = log.lastTid;
      if (log.badAt < 0) continue;
      const junk = await firstNonZero(s.file, log.badAt, s.size);
      if (junk >= 0 && last) {
        c.problem(
          s.path,
          log.badAt,
          `the active segment's bytes after its last whole transaction (offset ${log.badAt}) are not a transaction (first non-zero byte at ${junk}): damage, or a torn write that open would cut off`,
        );
      } else if (junk >= 0) {
        c.problem(s.path, log.badAt, `bytes after the last whole transaction (offset ${log.badAt}) are not a transaction`);
      }
    }
    for (const s of all) if (!live.includes(s)) c.count('replaced segments skipped');
  } finally {
    for (const s of all) await s.file.close().catch(() => undefined);
  }
  return c.report();
}
