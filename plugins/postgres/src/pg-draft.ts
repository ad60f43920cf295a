/**
 * A blob draft: copy-on-write over its base revision's chunks in the database. Chunks the draft
 * changed ("dirty") live in a private local temporary file at their blob offsets; the others are
 * read from the base revision's chunk rows. `prepare` uploads only the dirty chunks and reuses the
 * base's chunk ids for the rest, so changing 4 KiB of a 1 GiB blob uploads one chunk. Memory stays
 * bounded by one chunk (plus the base's chunk-id map: 8 bytes per chunk).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { draftFileName } from './draft-sweep.js';
import type { FileHandle } from 'node:fs/promises';
import { InvalidArgumentError, MAX_BLOB_SIZE, TransactionClosedError } from '@handlerton/framework';
import type { BlobDraft, BlobId, FileSystem } from '@handlerton/framework';

/** Where a draft gets base bytes from: one chunk's bytes `[offset, offset + length)` by chunk id. */
export type ChunkReader = (chunkId: bigint, offset: number, length: number) => Promise<Buffer>;

/** What a sealed draft hands to prepare: its size, the base chunk ids it keeps, and its dirty chunks. */
export interface SealedDraft {
  readonly blobId: BlobId;
  readonly size: number;
  readonly kept: ReadonlyMap<number, bigint>;
  readonly dirty: readonly number[];
  /** Reads dirty chunk `index` (its bytes within the draft's size). */
  readDirty(index: number): Promise<Buffer>;
}

function assertOffset(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(`${what} must be a non-negative safe integer, got ${String(value)}`);
}

/** A private draft of one blob, kept in a temporary file beside copy-on-write base chunks. */
export class PgDraft implements BlobDraft {
  readonly blobId: BlobId;
  readonly #chunkSize: number;
  readonly #base: Map<number, bigint>;
  readonly #dirty = new Set<number>();
  readonly #readBase: ChunkReader;
  readonly #fs: FileSystem;
  readonly #path: string;
  #file: FileHandle | undefined;
  #opening: Promise<FileHandle> | undefined;
  #size: number;
  #closed = false;

  constructor(blobId: BlobId, chunkSize: number, base: { chunks: Map<number, bigint>; size: number } | null, readBase: ChunkReader, fs: FileSystem, tempDir: string) {
    this.blobId = blobId;
    this.#chunkSize = chunkSize;
    this.#base = base?.chunks ?? new Map();
    this.#size = base?.size ?? 0;
    this.#readBase = readBase;
    this.#fs = fs;
    this.#path = join(tempDir, draftFileName(randomBytes(8).toString('hex')));
  }

  size(): number {
    this.#checkOpen();
    return this.#size;
  }

  async read(target: Uint8Array, position: number): Promise<number> {
    this.#checkOpen();
    if (!(target instanceof Uint8Array)) throw new InvalidArgumentError('read target must be a Uint8Array');
    assertOffset(position, 'read position');
    const total = Math.max(0, Math.min(target.length, this.#size - position));
    for (let done = 0; done < total; ) {
      const index = Math.floor((position + done) / this.#chunkSize);
      const offset = position + done - index * this.#chunkSize;
      const count = Math.min(this.#chunkSize - offset, total - done);
      await this.#readChunk(index, offset, target.subarray(done, done + count));
      done += count;
    }
    return total;
  }

  async write(source: Uint8Array, position: number): Promise<void> {
    this.#checkOpen();
    if (!(source instanceof Uint8Array)) throw new InvalidArgumentError('write source must be a Uint8Array');
    assertOffset(position, 'write position');
    if (position + source.length > MAX_BLOB_SIZE) throw new InvalidArgumentError(`write end ${position + source.length} is past the largest blob size ${MAX_BLOB_SIZE}`);
    if (source.length === 0) return;
    for (let done = 0; done < source.length; ) {
      const index = Math.floor((position + done) / this.#chunkSize);
      const offset = position + done - index * this.#chunkSize;
      const count = Math.min(this.#chunkSize - offset, source.length - done);
      await this.#makeDirty(index);
      const file = await this.#open();
      await file.write(source, done, count, position + done);
      done += count;
    }
    this.#size = Math.max(this.#size, position + source.length);
  }

  async truncate(size: number): Promise<void> {
    this.#checkOpen();
    assertOffset(size, 'truncate size');
    if (size > MAX_BLOB_SIZE) throw new InvalidArgumentError(`truncate size ${size} is past the largest blob size ${MAX_BLOB_SIZE}`);
    if (size < this.#size) {
      const keep = Math.ceil(size / this.#chunkSize);
      for (const index of [...this.#base.keys()]) if (index >= keep) this.#base.delete(index);
      for (const index of [...this.#dirty]) if (index >= keep) this.#dirty.delete(index);
      // The chunk holding the new end: its bytes past the end must read as zeros if the draft grows again.
      if (keep > 0 && size % this.#chunkSize !== 0) await this.#makeDirty(keep - 1);
      if (this.#file !== undefined) await this.#file.truncate(size);
    }
    this.#size = size;
  }

  /** Closes the draft and describes it for upload (the temporary file stays until `discard`). */
  seal(): SealedDraft {
    this.#checkOpen();
    this.#closed = true;
    const lastIndex = Math.ceil(this.#size / this.#chunkSize);
    const kept = new Map([...this.#base].filter(([index]) => index < lastIndex && !this.#dirty.has(index)));
    return {
      blobId: this.blobId,
      size: this.#size,
      kept,
      dirty: [...this.#dirty].filter((index) => index < lastIndex).sort((a, b) => a - b),
      readDirty: async (index) => {
        const start = index * this.#chunkSize;
        const length = Math.min(this.#chunkSize, this.#size - start);
        const buffer = Buffer.alloc(length);
        const file = await this.#open();
        let got = 0;
        while (got < length) {
          const { bytesRead } = await file.read(buffer, got, length - got, start + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return buffer;
      },
    };
  }

  /** Closes the draft and removes its temporary file. Idempotent. */
  async discard(): Promise<void> {
    this.#closed = true;
    const file = this.#file ?? (await this.#opening?.catch(() => undefined));
    this.#file = undefined;
    this.#opening = undefined;
    if (file !== undefined) {
      await file.close().catch(() => undefined);
      await this.#fs.promises.rm(this.#path, { force: true }).catch(() => undefined);
    }
  }

  /** Fills `target` with the draft's bytes of chunk `index` from `offset` (zeros where nothing was written). */
  async #readChunk(index: number, offset: number, target: Uint8Array): Promise<void> {
    if (this.#dirty.has(index)) {
      const file = await this.#open();
      let got = 0;
      while (got < target.length) {
        const { bytesRead } = await file.read(target, got, target.length - got, index * this.#chunkSize + offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      target.fill(0, got);
      return;
    }
    const chunkId = this.#base.get(index);
    if (chunkId === undefined) {
      target.fill(0);
      return;
    }
    const bytes = await this.#readBase(chunkId, offset, target.length);
    target.set(bytes.subarray(0, target.length));
    target.fill(0, Math.min(bytes.length, target.length));
  }

  /** Copies base chunk `index` (its bytes within the draft's size) into the temporary file, once. */
  async #makeDirty(index: number): Promise<void> {
    if (this.#dirty.has(index)) return;
    const chunkId = this.#base.get(index);
    const start = index * this.#chunkSize;
    const length = Math.min(this.#chunkSize, this.#size - start);
    if (chunkId !== undefined && length > 0) {
      const bytes = await this.#readBase(chunkId, 0, length);
      const file = await this.#open();
      await file.write(bytes, 0, Math.min(bytes.length, length), start);
    }
    this.#base.delete(index);
    this.#dirty.add(index);
  }

  async #open(): Promise<FileHandle> {
    if (this.#file !== undefined) return this.#file;
    this.#opening ??= this.#fs.promises.open(this.#path, 'w+', 0o600);
    this.#file = await this.#opening;
    return this.#file;
  }

  #checkOpen(): void {
    if (this.#closed) throw new TransactionClosedError(`the draft of blob ${this.blobId} was committed or rolled back`);
  }
}
