/** Opening a storage directory: find the live segments, drop superseded and temporary files, load trailers. */
import { join } from 'node:path';
import { CorruptionError } from '@handlerton/framework';
import { FOOTER_MAGIC, FOOTER_SIZE, SEGMENT_HEADER_SIZE } from './constants.js';
import type { FileIO } from './file-io.js';
import { isTemporaryFileName, parseSegmentFileName } from './naming.js';
import type { PageCache } from './page-cache.js';
import { disposeReplaced, syncDisposal } from './retired-segments.js';
import { readFooter, SealedSegment } from './sealed-segment.js';
import { SegmentFile } from './segment-file.js';
import { decodeSegmentHeader, type SegmentFooter, type SegmentHeader } from './segment-format.js';

/** An unsealed segment found at open, still to be scanned. */
export interface UnsealedFile {
  readonly file: SegmentFile;
  readonly header: SegmentHeader;
  readonly size: number;
}

/** What the directory holds. */
export interface OpenedDirectory {
  /** Sealed segments, oldest first. */
  readonly sealed: SealedSegment[];
  /** The active segment's file, when the newest segment is not sealed. */
  readonly unsealed: UnsealedFile | null;
  /**
   * Older segments without a valid footer, oldest first: a crash came while their trailer was
   * being written after commits had moved on to the next segment. Open scans and seals them.
   */
  readonly unsealedOlder: UnsealedFile[];
  /** The database id found in the segment headers, or null for an empty directory. */
  readonly databaseId: bigint | null;
  /** Highest segment seq present (0 when none). */
  readonly highestSeq: number;
}

interface Candidate {
  readonly name: string;
  readonly file: SegmentFile;
  readonly size: number;
  readonly header: SegmentHeader;
  readonly footer: SegmentFooter | null;
}

/** Reads the segment set of `dir` (removing leftovers, or archiving replaced segments, unless read-only). */
export async function openDirectory(io: FileIO, dir: string, readOnly: boolean, cache: PageCache, archivePacked = false): Promise<OpenedDirectory> {
  const names = io.list(dir).sort();
  const candidates: Candidate[] = [];
  let removed = false;
  let archived = false;
  try {
    for (const name of names) {
      if (isTemporaryFileName(name)) {
        if (!readOnly) {
          io.unlink(join(dir, name));
          removed = true;
        }
        continue;
      }
      const parsed = parseSegmentFileName(name);
      if (!parsed) continue;
      const path = join(dir, name);
      const fd = io.open(path, readOnly ? 'r' : 'r+');
      const file = new SegmentFile(io, fd, path, name);
      candidates.push({ name, file, size: 0, header: undefined as unknown as SegmentHeader, footer: null });
      const size = io.size(fd, path);
      const head = Buffer.alloc(SEGMENT_HEADER_SIZE);
      io.readAt(fd, head, 0, SEGMENT_HEADER_SIZE, 0, path);
      const header = decodeSegmentHeader(head, path);
      if (header.seq !== parsed.seq || header.gen !== parsed.gen) {
        throw new CorruptionError('segment header does not match its file name', path, 16);
      }
      candidates[candidates.length - 1] = { name, file, size, header, footer: readFooter(io, fd, path, size) };
    }

    // A pack output (gen > 0) replaces every lower-generation segment whose seq it covers.
    const live: Candidate[] = [];
    for (const c of candidates) {
      const replacedBy = candidates.find(
        (o) => o !== c && o.header.gen > c.header.gen && o.header.coversLo <= c.header.seq && c.header.seq <= o.header.seq && o.footer !== null,
      );
      if (replacedBy) {
        c.file.close();
        if (!readOnly) {
          disposeReplaced(io, dir, c.file.path, archivePacked);
          removed = true;
          archived ||= archivePacked;
        }
      } else {
        live.push(c);
      }
    }
    live.sort((a, b) => a.header.seq - b.header.seq);
    for (let i = 1; i < live.length; i++) {
      if (live[i]!.header.seq === live[i - 1]!.header.seq) throw new CorruptionError('two live segments share a sequence number', live[i]!.file.path, 16);
    }
    let databaseId: bigint | null = null;
    for (const c of live) {
      if (databaseId === null) databaseId = c.header.databaseId;
      else if (c.header.databaseId !== databaseId) throw new CorruptionError('segment belongs to another database', c.file.path, 48);
    }
    const sealed: SealedSegment[] = [];
    let unsealed: UnsealedFile | null = null;
    const unsealedOlder: UnsealedFile[] = [];
    live.forEach((c, i) => {
      if (c.footer !== null) {
        sealed.push(SealedSegment.load(io, c.file, c.header, c.footer, c.size, cache));
      } else if (i === live.length - 1 && c.header.gen === 0) {
        unsealed = { file: c.file, header: c.header, size: c.size };
      } else if (i === live.length - 2 && c.header.gen === 0 && footerWasNeverWritten(io, c.file.fd, c.file.path, c.size)) {
        // a crash came while the trailer was being written (the footer is written last, alone,
        // once the rest is durable). One seal runs at a time and only once commits moved on to the
        // next segment, so only the segment before the last can be in that state; a missing or
        // damaged footer anywhere else is corruption (below)
        unsealedOlder.push({ file: c.file, header: c.header, size: c.size });
      } else {
        throw new CorruptionError('sealed segment has no valid footer', c.file.path, Math.max(0, c.size - 80));
      }
    });
    if (removed) await syncDisposal(io, dir, archived);
    return { sealed, unsealed, unsealedOlder, databaseId, highestSeq: live.length ? live[live.length - 1]!.header.seq : 0 };
  } catch (e) {
    for (const c of candidates) c.file.close();
    throw e;
  }
}

/**
 * True when the end of the file may hold a footer that was being written (or was never begun):
 * no footer magic there, or the magic with a zero checksum field (a torn write of a footer whose
 * place read as zeros). A footer with its magic and a non-zero checksum that does not check is damage.
 */
function footerWasNeverWritten(io: FileIO, fd: number, path: string, size: number): boolean {
  if (size < SEGMENT_HEADER_SIZE + FOOTER_SIZE) return true;
  const b = Buffer.alloc(FOOTER_SIZE);
  io.readAt(fd, b, 0, FOOTER_SIZE, size - FOOTER_SIZE, path);
  return !b.subarray(0, FOOTER_MAGIC.length).equals(FOOTER_MAGIC) || b.readUInt32BE(FOOTER_SIZE - 4) === 0;
}
