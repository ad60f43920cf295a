/**
 * Random-access reader of one committed revision, over its chunk files. Every byte returned was
 * verified against its 64 KiB block's CRC-32 (chunk-sums.ts); holes read as zeros.
 */
import { join } from 'node:path';
import type { BlobId, RevisionReader, Tid } from '@handlerton/framework';
import { CorruptionError, HandleClosedError, toHex } from '@handlerton/framework';
import { assertBytes, assertOffset } from './checks.js';
import { decodeTrailer, trailerSize } from './chunk-sums.js';
import { FsOps, hasCode, ioError } from './fs-ops.js';
import type { HoleSet } from './holes.js';
import { chunkName } from './layout.js';
import { LastBlock, readVerified } from './verified-read.js';
import type { SealedChunk } from './verified-read.js';

/** Chunk files kept open per reader (sequential reads touch one at a time). */
const OPEN_CHUNKS = 4;

interface OpenChunk {
  /** The fd and the block crcs from the chunk's trailer (checked). */
  readonly opened: Promise<SealedChunk>;
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


/** Reads a revision's chunk files, verifying checksums; holds the revision alive until `close`. */
export class ChunkedRevisionReader implements RevisionReader {
  readonly size: number;
  readonly #ops: FsOps;
  readonly #src: RevisionSource;
  readonly #open = new Map<number, OpenChunk>();
  readonly #onClose: () => Promise<void>;
  readonly #cache = new LastBlock();
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
          const sealed = await chunk.opened;
          await readVerified(this.#ops, sealed, target.subarray(done, done + length), offset, this.#cache, this.#damage);
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
    this.#cache.bytes = null;
    const chunks = [...this.#open.values()];
    this.#open.clear();
    for (const chunk of chunks) {
      chunk.evicted = true;
      if (chunk.users === 0) this.#closeChunk(chunk);
    }
    await this.#onClose();
  }

  /** CorruptionError naming the blob, the revision, the offset in the blob and the file. */
  readonly #damage = (what: string, index: number, chunkOffset: number): CorruptionError => {
    const { blobId, revision, chunkSize } = this.#src;
    const blobOffset = index * chunkSize + chunkOffset;
    return new CorruptionError(
      `blob ${toHex(blobId)} revision ${toHex(revision)}: ${what} at blob offset ${blobOffset}`,
      this.#path(index),
      chunkOffset,
    );
  };

  #dataLength(index: number): number {
    return Math.min(this.#src.chunkSize, this.size - index * this.#src.chunkSize);
  }

  #path(index: number): string {
    return join(this.#src.dir, chunkName(index));
  }

  async #openChunk(index: number): Promise<SealedChunk> {
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
      return { fd, crcs, dataLen, index };
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
