/**
 * Random-access reader of one committed revision, over its chunk files. Every byte returned was
 * verified against its 64 KiB block's CRC-32 (chunk-sums.ts); holes read as zeros.
 */
import { join } from 'node:path';
import type { BlobId, RevisionReader, Tid } from '@handlerton/framework';
import { CorruptionError, HandleClosedError, toHex } from '@handlerton/framework';
import { assertBytes, assertOffset } from './checks.js';
import { blockCrc, decodeTrailer, SUM_BLOCK, trailerSize } from './chunk-sums.js';
import { FsOps, hasCode, ioError } from './fs-ops.js';
import type { HoleSet } from './holes.js';
import { chunkName } from './layout.js';

/** Chunk files kept open per reader (sequential reads touch one at a time). */
const OPEN_CHUNKS = 4;

interface OpenChunk {
  /** The fd and the block crcs from the chunk's trailer (checked). */
  readonly opened: Promise<{ fd: number; crcs: Uint32Array }>;
  users: number;
  evicted: boolean;
}

/** What a reader reads: which revision, where, and how it is cut into chunks. */
export interface RevisionSource {
  readonly blobId: BlobId;
  readonly revision: Tid;
  readonly dir: string;
  readonly size: number;
  readonly chunkSize: number;
  readonly holes: HoleSet;
}

/** The last block verified but only partly returned (small sequential reads reuse it). */
interface CachedBlock {
  readonly index: number;
  readonly block: number;
  readonly bytes: Buffer;
}

/** Reads a revision's chunk files, verifying checksums; holds the revision alive until `close`. */
export class ChunkedRevisionReader implements RevisionReader {
  readonly size: number;
  readonly #ops: FsOps;
  readonly #src: RevisionSource;
  readonly #open = new Map<number, OpenChunk>();
  readonly #onClose: () => Promise<void>;
  #cached: CachedBlock | null = null;
  #closed = false;

  constructor(ops: FsOps, source: RevisionSource, onClose: () => Promise<void>) {
    this.#ops = ops;
    this.#src = source;
    this.size = source.size;
    this.#onClose = onClose;
  }

  /** Reads up to `target.length` bytes at `position`; returns the count (0 at or past the end). */
  async read(target: Uint8Array, position: number): Promise<number> {
    assertBytes(target, 'read target');
    assertOffset(position, 'read position');
    if (this.#closed) throw new HandleClosedError('revision reader is closed');
    const { chunkSize } = this.#src;
    const end = Math.min(this.size, position + target.length);
    let done = 0;
    while (position + done < end) {
      const at = position + done;
      const index = Math.floor(at / chunkSize);
      const offset = at - index * chunkSize;
      const length = Math.min(end - at, chunkSize - offset);
      if (this.#src.holes.has(index)) {
        target.fill(0, done, done + length);
      } else {
        const chunk = this.#acquire(index);
        try {
          const { fd, crcs } = await chunk.opened;
          await this.#readVerified(fd, crcs, index, target.subarray(done, done + length), offset);
        } catch (error) {
          if (error instanceof CorruptionError || this.#closed) throw error;
          throw ioError(`reading blob chunk ${this.#path(index)}`, error);
        } finally {
          this.#release(chunk);
        }
      }
      done += length;
    }
    return done;
  }

  /** Releases the revision. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cached = null;
    const chunks = [...this.#open.values()];
    this.#open.clear();
    for (const chunk of chunks) {
      chunk.evicted = true;
      if (chunk.users === 0) this.#closeChunk(chunk);
    }
    await this.#onClose();
  }

  /** Fills `out` with the chunk's bytes from `offset`, verifying every block it touches. */
  async #readVerified(fd: number, crcs: Uint32Array, index: number, out: Uint8Array, offset: number): Promise<void> {
    const dataLen = this.#dataLength(index);
    const end = offset + out.length;
    let at = offset;
    while (at < end) {
      const block = Math.floor(at / SUM_BLOCK);
      const blockStart = block * SUM_BLOCK;
      if (at === blockStart && Math.min(blockStart + SUM_BLOCK, dataLen) <= end) {
        // whole blocks: read straight into the caller's buffer, then check each one
        let runEnd = blockStart;
        while (runEnd < end && Math.min(runEnd + SUM_BLOCK, dataLen) <= end) runEnd = Math.min(runEnd + SUM_BLOCK, dataLen);
        const into = out.subarray(at - offset, runEnd - offset);
        await this.#readExactly(fd, into, at, index);
        for (let b = block; b * SUM_BLOCK < runEnd; b++) {
          const from = b * SUM_BLOCK - at;
          this.#check(into.subarray(from, Math.min(from + SUM_BLOCK, into.length)), crcs, index, b);
        }
        at = runEnd;
      } else {
        const bytes = await this.#block(fd, crcs, index, block, dataLen);
        const to = Math.min(end, blockStart + bytes.length);
        out.set(bytes.subarray(at - blockStart, to - blockStart), at - offset);
        at = to;
      }
    }
  }

  /** One verified block, from the cache or read whole. */
  async #block(fd: number, crcs: Uint32Array, index: number, block: number, dataLen: number): Promise<Buffer> {
    const cached = this.#cached;
    if (cached !== null && cached.index === index && cached.block === block) return cached.bytes;
    const start = block * SUM_BLOCK;
    const bytes = Buffer.allocUnsafe(Math.min(SUM_BLOCK, dataLen - start));
    await this.#readExactly(fd, bytes, start, index);
    this.#check(bytes, crcs, index, block);
    this.#cached = { index, block, bytes };
    return bytes;
  }

  async #readExactly(fd: number, into: Uint8Array, position: number, index: number): Promise<void> {
    const got = await this.#ops.readFully(fd, into, 0, into.length, position);
    if (got < into.length) {
      throw this.#damage(`chunk file is shorter than its revision says`, index, position + got);
    }
  }

  #check(bytes: Uint8Array, crcs: Uint32Array, index: number, block: number): void {
    if (blockCrc(bytes) !== crcs[block]) throw this.#damage('checksum mismatch', index, block * SUM_BLOCK);
  }

  /** CorruptionError naming the blob, the revision, the offset in the blob and the file. */
  #damage(what: string, index: number, chunkOffset: number): CorruptionError {
    const { blobId, revision, chunkSize } = this.#src;
    const blobOffset = index * chunkSize + chunkOffset;
    return new CorruptionError(
      `blob ${toHex(blobId)} revision ${toHex(revision)}: ${what} at blob offset ${blobOffset}`,
      this.#path(index),
      chunkOffset,
    );
  }

  #dataLength(index: number): number {
    return Math.min(this.#src.chunkSize, this.size - index * this.#src.chunkSize);
  }

  #path(index: number): string {
    return join(this.#src.dir, chunkName(index));
  }

  async #openChunk(index: number): Promise<{ fd: number; crcs: Uint32Array }> {
    let fd: number;
    try {
      fd = await this.#ops.open(this.#path(index), 'r');
    } catch (error) {
      if (hasCode(error, 'ENOENT')) throw this.#damage('chunk file is missing', index, 0);
      throw error;
    }
    try {
      const dataLen = this.#dataLength(index);
      const trailer = Buffer.alloc(trailerSize(dataLen));
      const got = await this.#ops.readFully(fd, trailer, 0, trailer.length, dataLen);
      const crcs = got === trailer.length ? decodeTrailer(trailer, dataLen) : null;
      if (crcs === null) throw this.#damage('chunk checksum trailer is missing or damaged (torn or short chunk file)', index, dataLen);
      return { fd, crcs };
    } catch (error) {
      await this.#ops.close(fd).catch(() => undefined);
      throw error;
    }
  }

  #acquire(index: number): OpenChunk {
    let chunk = this.#open.get(index);
    if (chunk !== undefined) {
      this.#open.delete(index);
    } else {
      chunk = { opened: this.#openChunk(index), users: 0, evicted: false };
      chunk.opened.catch(() => undefined);
    }
    this.#open.set(index, chunk);
    chunk.users += 1;
    if (this.#open.size > OPEN_CHUNKS) {
      const [oldestIndex, oldest] = this.#open.entries().next().value as [number, OpenChunk];
      this.#open.delete(oldestIndex);
      oldest.evicted = true;
      if (oldest.users === 0) this.#closeChunk(oldest);
    }
    return chunk;
  }

  #release(chunk: OpenChunk): void {
    chunk.users -= 1;
    if (chunk.users === 0 && chunk.evicted) this.#closeChunk(chunk);
  }

  #closeChunk(chunk: OpenChunk): void {
    chunk.opened.then(({ fd }) => this.#ops.close(fd)).catch(() => undefined);
  }
}
