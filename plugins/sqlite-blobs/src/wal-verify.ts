/**
 * `verify` of a WAL file (read-only): everything SQLite would silently ignore. SQLite reads frames
 * while their salts match the header and their checksums chain, and uses them up to the last commit
 * frame; it drops the rest without an error. A frame of the WAL's current generation (its salts)
 * that fails its checksum, a current-generation frame after such a break, frames after the last
 * commit frame, a partial current-generation frame at the end, or a damaged header in front of
 * frames: each means committed or written data that SQLite will not see (damage, or a torn write
 * that SQLite cuts). Frames of an older generation (left after a checkpoint restarted the WAL) are
 * normal. walChecksum is SQLite's (wal-check.ts).
 */
import { open } from 'node:fs/promises';
import { BLOBS_JOURNAL_LIMIT, RECORDS_WAL_LIMIT } from './connection.js';
import { walChecksum } from './wal-check.js';

const WAL_HEADER = 32;
const FRAME_HEADER = 24;
const MAGIC_LE = 0x377f0682;
const MAGIC_BE = 0x377f0683;

/** One problem of a WAL: offset and message. */
export interface WalProblem {
  readonly offset: number;
  readonly message: string;
}

/** The journal_size_limit values the engine sets (records, blobs); a function: connection.ts imports this module's importers. */
function sizeLimits(): readonly number[] {
  return [RECORDS_WAL_LIMIT, BLOBS_JOURNAL_LIMIT];
}

function validPageSize(size: number): boolean {
  return size >= 512 && size <= 65536 && (size & (size - 1)) === 0;
}

/** What SQLite would drop from `<file>-wal` without an error; [] when there is no WAL or nothing is dropped. */
export async function walProblems(file: string, databasePageSize: number): Promise<{ frames: number; problems: WalProblem[] }> {
  let handle;
  try {
    handle = await open(`${file}-wal`, 'r');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { frames: 0, problems: [] };
    throw error;
  }
  try {
    const size = (await handle.stat()).size;
    if (size === 0) return { frames: 0, problems: [] };
    const header = Buffer.alloc(WAL_HEADER);
    const { bytesRead } = await handle.read(header, 0, WAL_HEADER, 0);
    const magic = bytesRead === WAL_HEADER ? header.readUInt32BE(0) : 0;
    const bigEndian = magic === MAGIC_BE;
    const [h0, h1] = walChecksum(header.subarray(0, 24), bigEndian, 0, 0);
    const headerValid =
      (magic === MAGIC_LE || magic === MAGIC_BE) && h0 === header.readUInt32BE(24) && h1 === header.readUInt32BE(28) && header.readUInt32BE(8) === databasePageSize;
    if (!headerValid) {
      // SQLite treats the WAL as empty; a header is written (and synced) before any frame
      return { frames: 0, problems: size > WAL_HEADER ? [{ offset: 0, message: `WAL header is damaged: SQLite ignores the ${size - WAL_HEADER} bytes of frames after it` }] : [{ offset: 0, message: 'WAL header is damaged or partial' }] };
    }
    const pageSize = header.readUInt32BE(8);
    if (!validPageSize(pageSize)) return { frames: 0, problems: [{ offset: 8, message: `WAL page size ${pageSize} is not valid` }] };
    const salts = header.subarray(16, 24);
    const frameSize = FRAME_HEADER + pageSize;
    const problems: WalProblem[] = [];
    const frame = Buffer.alloc(frameSize);
    let previous: [number, number] = [header.readUInt32BE(24), header.readUInt32BE(28)];
    let frames = 0;
    let lastCommitEnd = WAL_HEADER;
    let broken = -1;
    for (let at = WAL_HEADER; at < size; at += frameSize) {
      const { bytesRead: n } = await handle.read(frame, 0, frameSize, at);
      const current = n >= 16 && frame.subarray(8, 16).equals(salts);
      if (n < frameSize) {
        // journal_size_limit cuts a restarted WAL to exactly its limit (mid-frame); otherwise a partial
        // frame too short to show its salts is a torn write as well
        const limitCut = sizeLimits().includes(size);
        if (broken < 0 && (current || (n < 16 && !limitCut))) {
          problems.push({ offset: at, message: `the WAL ends in a partial frame${current ? ' of its current generation' : ''} (${n} of ${frameSize} bytes): a torn write SQLite drops` });
        }
        break;
      }
      if (broken >= 0) {
        if (current) {
          problems.push({ offset: broken, message: `WAL frame at ${broken} is damaged but a frame of the same generation follows at ${at}: SQLite drops everything from ${broken} on` });
          break;
        }
        continue;
      }
      const [c0, c1] = walChecksum(frame.subarray(0, 8), bigEndian, previous[0], previous[1]);
      const [d0, d1] = walChecksum(frame.subarray(FRAME_HEADER), bigEndian, c0, c1);
      const own: [number, number] = [frame.readUInt32BE(16), frame.readUInt32BE(20)];
      if (!current || d0 !== own[0] || d1 !== own[1]) {
        if (current) problems.push({ offset: at, message: `WAL frame at ${at} of the current generation fails its checksum: SQLite drops it and every frame after it` });
        broken = at;
        if (current) break;
        continue;
      }
      frames++;
      previous = own;
      if (frame.readUInt32BE(4) !== 0) lastCommitEnd = at + frameSize;
    }
    const validEnd = broken >= 0 ? broken : Math.min(size, WAL_HEADER + Math.floor((size - WAL_HEADER) / frameSize) * frameSize);
    if (validEnd > lastCommitEnd && problems.length === 0) {
      problems.push({ offset: lastCommitEnd, message: `WAL frames ${lastCommitEnd}..${validEnd} belong to a transaction with no commit frame: SQLite drops them` });
    }
    return { frames, problems };
  } finally {
    await handle.close();
  }
}
