/**
 * Checks a WAL file before SQLite opens it. SQLite ends the WAL at the first frame whose checksum
 * fails and silently drops every frame after it: right for a torn last transaction, but damage in
 * an older frame would then lose transactions that were committed and synced, without an error.
 * With synchronous = FULL every commit is synced before the next transaction is written, so a
 * damaged frame followed by a valid frame of a later transaction (same salts, checksum valid
 * against its predecessor's stored checksum) is damage, not a torn tail: CorruptionError naming
 * the WAL and the frame's offset. The file is read through the injected FileSystem.
 */
import { CorruptionError, type FileSystem } from '@handlerton/framework';

const WAL_HEADER = 32;
const FRAME_HEADER = 24;
const MAGIC_LE = 0x377f0682;
const MAGIC_BE = 0x377f0683;
/** Frames read per call. */
const BATCH_BYTES = 1024 * 1024;

function openIfPresent(fs: FileSystem, file: string): Promise<number | undefined> {
  return new Promise((resolve) => fs.open(file, 'r', (error, fd) => resolve(error === null ? fd : undefined)));
}

function sizeOf(fs: FileSystem, fd: number): Promise<number> {
  return new Promise((resolve, reject) => fs.fstat(fd, (error, stats) => (error === null ? resolve(stats.size) : reject(error))));
}

function readAt(fs: FileSystem, fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buffer, 0, length, position, (error, n) => (error === null ? resolve(n) : reject(error))));
}

function closeQuietly(fs: FileSystem, fd: number): Promise<void> {
  return new Promise((resolve) => fs.close(fd, () => resolve()));
}

/** SQLite's WAL checksum of `bytes` (length a multiple of 8), continuing from `[s0, s1]`. */
export function walChecksum(bytes: Buffer, bigEndian: boolean, s0: number, s1: number): [number, number] {
  let a = s0 | 0;
  let b = s1 | 0;
  const length = bytes.length - (bytes.length % 8);
  if (!bigEndian && bytes.byteOffset % 4 === 0 && new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) {
    // little-endian words on a little-endian host: read them in place
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, length / 4);
    for (let i = 0; i < words.length; i += 2) {
      a = (a + words[i]! + b) | 0;
      b = (b + words[i + 1]! + a) | 0;
    }
  } else {
    for (let i = 0; i < length; i += 8) {
      a = (a + (bigEndian ? bytes.readInt32BE(i) : bytes.readInt32LE(i)) + b) | 0;
      b = (b + (bigEndian ? bytes.readInt32BE(i + 4) : bytes.readInt32LE(i + 4)) + a) | 0;
    }
  }
  return [a >>> 0, b >>> 0];
}

/** One frame's fields needed by the check. */
interface Frame {
  /** Its salts, hex. */
  readonly salts: string;
  /** Checksum valid when continued from the previous frame's (or the header's) stored checksum. */
  readonly sums: boolean;
  readonly commit: boolean;
}

/** The page size of the database file itself (for a WAL whose header is damaged). */
async function databasePageSize(fs: FileSystem, file: string): Promise<number | undefined> {
  const fd = await openIfPresent(fs, file);
  if (fd === undefined) return undefined;
  try {
    const head = Buffer.alloc(18);
    if ((await readAt(fs, fd, head, 18, 0)) < 18) return undefined;
    const raw = head.readUInt16BE(16);
    return raw === 1 ? 65536 : raw;
  } finally {
    await closeQuietly(fs, fd);
  }
}

function validPageSize(size: number | undefined): size is number {
  return size !== undefined && size >= 512 && size <= 65536 && (size & (size - 1)) === 0;
}

/** Reads every whole frame of the WAL. */
async function readFrames(fs: FileSystem, fd: number, size: number, pageSize: number, bigEndian: boolean, seed: [number, number]): Promise<Frame[]> {
  const frameSize = FRAME_HEADER + pageSize;
  const count = Math.floor((size - WAL_HEADER) / frameSize);
  const frames: Frame[] = [];
  let previous = seed;
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / frameSize));
  const buffer = Buffer.alloc(perBatch * frameSize);
  for (let first = 0; first < count; first += perBatch) {
    const n = Math.min(perBatch, count - first);
    const got = await readAt(fs, fd, buffer, n * frameSize, WAL_HEADER + first * frameSize);
    for (let i = 0; i < n && (i + 1) * frameSize <= got; i++) {
      const frame = buffer.subarray(i * frameSize, (i + 1) * frameSize);
      const [c0, c1] = walChecksum(frame.subarray(0, 8), bigEndian, previous[0], previous[1]);
      const [d0, d1] = walChecksum(frame.subarray(FRAME_HEADER), bigEndian, c0, c1);
      const own: [number, number] = [frame.readUInt32BE(16), frame.readUInt32BE(20)];
      frames.push({ salts: frame.subarray(8, 16).toString('hex'), sums: d0 === own[0] && d1 === own[1], commit: frame.readUInt32BE(4) !== 0 });
      previous = own;
    }
  }
  return frames;
}

/**
 * Throws CorruptionError when `file`'s WAL holds a damaged frame (or header) followed by a valid
 * frame of a later transaction; returns quietly when there is no WAL, it is intact, or only its
 * last transaction is damaged (a torn tail SQLite drops).
 */
export async function checkWal(fs: FileSystem, file: string): Promise<void> {
  const wal = `${file}-wal`;
  const fd = await openIfPresent(fs, wal);
  if (fd === undefined) return;
  try {
    const size = await sizeOf(fs, fd);
    if (size < WAL_HEADER) return;
    const header = Buffer.alloc(WAL_HEADER);
    await readAt(fs, fd, header, WAL_HEADER, 0);
    const magic = header.readUInt32BE(0);
    const [h0, h1] = walChecksum(header.subarray(0, 24), magic === MAGIC_BE, 0, 0);
    const stored: [number, number] = [header.readUInt32BE(24), header.readUInt32BE(28)];
    const headerValid = (magic === MAGIC_LE || magic === MAGIC_BE) && h0 === stored[0] && h1 === stored[1];
    // A damaged header: SQLite writes the native order (little-endian here) and the page size is the file's.
    const bigEndian = magic === MAGIC_BE;
    const pageSize = validPageSize(header.readUInt32BE(8)) && headerValid ? header.readUInt32BE(8) : await databasePageSize(fs, file);
    if (!validPageSize(pageSize)) return;
    const frames = await readFrames(fs, fd, size, pageSize, bigEndian, stored);
    // The salts of the WAL's current generation (frames left from before a restart carry older ones).
    // SQLite syncs a new header before it writes the generation's frames, so the header is never older than them.
    const generation = headerValid ? header.subarray(16, 24).toString('hex') : frames[0]?.salts;
    // Frame i is valid when it belongs to the generation and its checksum continues from the stored one before it.
    const valid = (i: number): boolean => frames[i]!.sums && frames[i]!.salts === generation;
    let damaged: number;
    let offset: number;
    if (!headerValid) {
      damaged = 0;
      offset = 0;
    } else {
      damaged = frames.findIndex((_, i) => !valid(i));
      if (damaged < 0) return;
      offset = WAL_HEADER + damaged * (FRAME_HEADER + pageSize);
    }
    // The damaged frame's transaction may be the torn last one: only frames after its commit frame count.
    let end = damaged;
    while (end < frames.length && !(frames[end]!.commit && frames[end]!.salts === generation)) end++;
    for (let later = end + 1; later < frames.length; later++) {
      if (valid(later)) {
        throw new CorruptionError(
          `sqlite WAL ${headerValid ? `frame ${damaged}` : 'header'} is damaged but frame ${later} of a later transaction is valid: committed transactions would be dropped`,
          wal,
          offset,
        );
      }
    }
  } finally {
    await closeQuietly(fs, fd);
  }
}
