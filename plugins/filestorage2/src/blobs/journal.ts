/**
 * The refcount journal: an append-only, checksummed log of reference and publication changes,
 * replayed at open. A torn tail (the end of an interrupted append) is cut off; damage anywhere
 * else is a CorruptionError.
 */
import { crc32 } from 'node:zlib';
import { CorruptionError } from '@handlerton/framework';
import { FRAME_HEADER, JOURNAL_MAGIC, MAX_PAYLOAD, MalformedRecord, decodeRecord, encodeRecord } from './journal-codec.js';
import type { JournalRecord } from './journal-codec.js';
import { FsOps, hasCode, ioError } from './fs-ops.js';

const READ_BLOCK = 1024 * 1024;

/** Positioned reads through one cached block, so small records cost no extra syscalls. */
class BlockReader {
  #block = new Uint8Array(0);
  #blockStart = 0;

  constructor(
    private readonly ops: FsOps,
    private readonly fd: number,
    readonly fileSize: number,
  ) {}

  /** Exactly `n` bytes at `pos`, or null when the file ends first. */
  async bytes(pos: number, n: number): Promise<Uint8Array | null> {
    if (pos + n > this.fileSize) return null;
    const inBlock = pos >= this.#blockStart && pos + n <= this.#blockStart + this.#block.length;
    if (!inBlock) {
      const want = Math.min(Math.max(n, READ_BLOCK), this.fileSize - pos);
      const block = new Uint8Array(want);
      const got = await this.ops.readFully(this.fd, block, 0, want, pos);
      if (got < n) return null;
      this.#block = block.subarray(0, got);
      this.#blockStart = pos;
    }
    const from = pos - this.#blockStart;
    return this.#block.subarray(from, from + n);
  }

  /** True when every byte from `pos` to the end of the file is zero. */
  async zerosFrom(pos: number): Promise<boolean> {
    for (let at = pos; at < this.fileSize; ) {
      const n = Math.min(READ_BLOCK, this.fileSize - at);
      const chunk = await this.bytes(at, n);
      if (chunk === null || chunk.some((b) => b !== 0)) return false;
      at += n;
    }
    return true;
  }
}

/** Reads every valid record, calling `apply` in order; cuts a torn tail. Returns the number of records. */
export async function replayJournal(
  ops: FsOps,
  path: string,
  apply: (record: JournalRecord) => void,
): Promise<{ records: number; bytes: number }> {
  const fd = await ops.open(path, 'r+');
  try {
    const size = await ops.fsize(fd);
    const reader = new BlockReader(ops, fd, size);
    const magic = await reader.bytes(0, JOURNAL_MAGIC.length);
    if (magic === null || !magic.every((b, i) => b === JOURNAL_MAGIC[i])) {
      throw new CorruptionError('blob refcount journal has a bad header', path, 0);
    }
    let pos = JOURNAL_MAGIC.length;
    let records = 0;
    while (pos < size) {
      const problem = await frameAt(reader, pos);
      if (typeof problem === 'string') {
        // A torn tail has nothing valid after it; a bad frame followed by a valid one is damage
        // (even when its length field itself was hit), never something to cut off silently.
        if (await validFrameAfter(reader, pos + 1, size)) throw new CorruptionError(`blob refcount journal: ${problem}`, path, pos);
        await ops.ftruncate(fd, pos);
        await ops.fdatasync(fd);
        break;
      }
      apply(problem.record);
      records += 1;
      pos = problem.end;
    }
    return { records, bytes: pos };
  } finally {
    await ops.close(fd).catch(() => undefined);
  }
}

/** True when a complete, checksum-valid frame starts anywhere in [from, size). */
async function validFrameAfter(reader: BlockReader, from: number, size: number): Promise<boolean> {
  for (let at = from; at + FRAME_HEADER <= size; at++) {
    if (typeof (await frameAt(reader, at)) !== 'string') return true;
  }
  return false;
}

async function frameAt(reader: BlockReader, pos: number): Promise<{ record: JournalRecord; end: number } | string> {
  const header = await reader.bytes(pos, FRAME_HEADER);
  if (header === null) return 'truncated frame header';
  const view = new DataView(header.buffer, header.byteOffset, FRAME_HEADER);
  const length = view.getUint32(0, true);
  const sum = view.getUint32(4, true);
  if (length === 0 || length > MAX_PAYLOAD) return `bad frame length ${length}`;
  const payload = await reader.bytes(pos + FRAME_HEADER, length);
  if (payload === null) return 'truncated frame';
  if (crc32(payload) !== sum) return 'checksum mismatch';
  try {
    return { record: decodeRecord(payload), end: pos + FRAME_HEADER + length };
  } catch (error) {
    if (error instanceof MalformedRecord) return error.message;
    throw error;
  }
}

/**
 * Writes a fresh journal holding `records` and publishes it over `path` (tmp, fdatasync, rename,
 * and with `sync` an fsync of the directory; the fdatasync is done even without `sync`).
 */
export async function writeJournal(
  ops: FsOps,
  path: string,
  dir: string,
  records: Iterable<JournalRecord>,
  sync: boolean,
): Promise<void> {
  const tmp = `${path}.tmp`;
  const fd = await ops.open(tmp, 'w');
  try {
    let pos = 0;
    const pending: Uint8Array[] = [JOURNAL_MAGIC];
    let pendingBytes = JOURNAL_MAGIC.length;
    const flush = async (): Promise<void> => {
      const joined = Buffer.concat(pending, pendingBytes);
      await ops.writeFully(fd, joined, 0, joined.length, pos);
      pos += joined.length;
      pending.length = 0;
      pendingBytes = 0;
    };
    for (const record of records) {
      const frame = encodeRecord(record);
      pending.push(frame);
      pendingBytes += frame.length;
      if (pendingBytes >= READ_BLOCK) await flush();
    }
    await flush();
    // Always, whatever the sync mode: the rename replaces the old journal, and without this a
    // power cut can keep the rename and lose the new bytes (an empty journal, unopenable).
    await ops.fdatasync(fd);
  } finally {
    await ops.close(fd).catch(() => undefined);
  }
  await ops.rename(tmp, path);
  if (sync) await ops.fsyncDir(dir);
}

interface PendingAppend {
  readonly bytes: Uint8Array;
  readonly sync: boolean;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The open journal: appends frames in call order. Appends that arrive while a write is under
 * way are written together with one write and at most one fdatasync (group commit).
 */
export class Journal {
  readonly #ops: FsOps;
  readonly #path: string;
  #pending: PendingAppend[] = [];
  #flushing: Promise<void> | null = null;
  #fd: number;
  #end: number;

  private constructor(ops: FsOps, path: string, fd: number, end: number) {
    this.#ops = ops;
    this.#path = path;
    this.#fd = fd;
    this.#end = end;
  }

  /** Opens `path` (already replayed) for appending at `end`. */
  static async open(ops: FsOps, path: string, end: number, flags: 'r+' | 'r' = 'r+'): Promise<Journal> {
    const fd = await ops.open(path, flags);
    return new Journal(ops, path, fd, end);
  }

  /** Bytes in the journal. */
  get size(): number {
    return this.#end;
  }

  /** Appends `records`; with `sync`, returns after an fdatasync that covers them. Raw node errors escape. */
  append(records: readonly JournalRecord[], sync: boolean): Promise<void> {
    const bytes = Buffer.concat(records.map(encodeRecord));
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ bytes, sync, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        if (this.#fd < 0) throw ioError('blob refcount journal', new Error('journal is closed'));
        const bytes = batch.length === 1 ? (batch[0] as PendingAppend).bytes : Buffer.concat(batch.map((p) => p.bytes));
        await this.#ops.writeFully(this.#fd, bytes, 0, bytes.length, this.#end);
        this.#end += bytes.length;
        if (batch.some((p) => p.sync)) await this.#ops.fdatasync(this.#fd);
        for (const p of batch) p.resolve();
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    this.#flushing = null;
  }

  /** Closes the file after pending appends. Idempotent. */
  async close(): Promise<void> {
    await this.#flushing;
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    await this.#ops.close(fd).catch((error: unknown) => {
      if (!hasCode(error, 'EBADF')) throw ioError(`closing ${this.#path}`, error);
    });
  }
}
