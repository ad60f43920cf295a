/**
 * Blob bytes as fixed-size chunks, and the copy-on-write draft built on them.
 *
 * Content is a map from chunk index to bytes. A missing chunk, or the part of a chunk past its
 * length, reads as zeros, so holes cost nothing. Committed chunks are never written again: a
 * draft starts with its base revision's map and copies a chunk only when it first writes to it.
 */
import { InvalidArgumentError, TransactionClosedError } from '@handlerton/framework';
import type { BlobDraft, BlobId } from '@handlerton/framework';

/** Immutable committed content of a blob revision. */
export interface Content {
  readonly chunks: ReadonlyMap<number, Uint8Array>;
  readonly size: number;
}

/** Throws InvalidArgumentError unless `value` is a non-negative safe integer. */
export function assertOffset(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`${what} must be a non-negative safe integer, got ${String(value)}`);
  }
}

/** Copies up to `target.length` bytes at `position` out of `content`; returns the count. */
export function readContent(content: Content, chunkSize: number, target: Uint8Array, position: number): number {
  if (!(target instanceof Uint8Array)) throw new InvalidArgumentError('read target must be a Uint8Array');
  assertOffset(position, 'read position');
  const total = Math.max(0, Math.min(target.length, content.size - position));
  for (let done = 0; done < total; ) {
    const index = Math.floor((position + done) / chunkSize);
    const offset = position + done - index * chunkSize;
    const count = Math.min(chunkSize - offset, total - done);
    const chunk = content.chunks.get(index);
    const present = chunk === undefined ? 0 : Math.max(0, Math.min(count, chunk.length - offset));
    if (present > 0) target.set(chunk!.subarray(offset, offset + present), done);
    target.fill(0, done + present, done + count);
    done += count;
  }
  return total;
}

/** A private, copy-on-write draft of one blob. */
export class MemoryDraft implements BlobDraft {
  readonly blobId: BlobId;
  readonly #chunkSize: number;
  readonly #chunks: Map<number, Uint8Array>;
  /** Chunks this draft allocated (full chunkSize, writable); the others belong to the base. */
  readonly #owned = new Set<number>();
  #size: number;
  #closed = false;

  constructor(blobId: BlobId, chunkSize: number, base: Content | null) {
    this.blobId = blobId;
    this.#chunkSize = chunkSize;
    this.#chunks = new Map(base?.chunks ?? []);
    this.#size = base?.size ?? 0;
  }

  size(): number {
    this.#checkOpen();
    return this.#size;
  }

  async read(target: Uint8Array, position: number): Promise<number> {
    this.#checkOpen();
    return readContent({ chunks: this.#chunks, size: this.#size }, this.#chunkSize, target, position);
  }

  async write(source: Uint8Array, position: number): Promise<void> {
    this.#checkOpen();
    if (!(source instanceof Uint8Array)) throw new InvalidArgumentError('write source must be a Uint8Array');
    assertOffset(position, 'write position');
    assertOffset(position + source.length, 'write end');
    if (source.length === 0) return;
    for (let done = 0; done < source.length; ) {
      const index = Math.floor((position + done) / this.#chunkSize);
      const offset = position + done - index * this.#chunkSize;
      const count = Math.min(this.#chunkSize - offset, source.length - done);
      this.#writable(index).set(source.subarray(done, done + count), offset);
      done += count;
    }
    this.#size = Math.max(this.#size, position + source.length);
  }

  async truncate(size: number): Promise<void> {
    this.#checkOpen();
    assertOffset(size, 'truncate size');
    if (size < this.#size) {
      const keep = Math.ceil(size / this.#chunkSize);
      for (const index of [...this.#chunks.keys()]) {
        if (index >= keep) {
          this.#chunks.delete(index);
          this.#owned.delete(index);
        }
      }
      // Bytes past the new end must read as zeros if the draft grows again.
      const offset = size - (keep - 1) * this.#chunkSize;
      const last = this.#chunks.get(keep - 1);
      if (last !== undefined && offset < last.length) {
        if (this.#owned.has(keep - 1)) last.fill(0, offset);
        else this.#chunks.set(keep - 1, last.subarray(0, offset));
      }
    }
    this.#size = size;
  }

  /** Chunks this draft allocated so far (for memory accounting). */
  ownedChunks(): Uint8Array[] {
    return [...this.#owned].map((index) => this.#chunks.get(index)!);
  }

  /** Closes the draft and hands over its content, trimming its last chunk to the bytes in use. */
  seal(): Content {
    this.#checkOpen();
    this.#closed = true;
    const chunks = new Map(this.#chunks);
    const lastIndex = Math.ceil(this.#size / this.#chunkSize) - 1;
    const last = chunks.get(lastIndex);
    const used = this.#size - lastIndex * this.#chunkSize;
    if (last !== undefined && this.#owned.has(lastIndex) && used < last.length) chunks.set(lastIndex, last.slice(0, used));
    return { chunks, size: this.#size };
  }

  /** Closes the draft, discarding it. Idempotent. */
  discard(): void {
    this.#closed = true;
  }

  /** The chunk at `index`, copied into a private full-size chunk first if the draft does not own it. */
  #writable(index: number): Uint8Array {
    const existing = this.#chunks.get(index);
    if (existing !== undefined && this.#owned.has(index)) return existing;
    const chunk = new Uint8Array(this.#chunkSize);
    if (existing !== undefined) chunk.set(existing);
    this.#chunks.set(index, chunk);
    this.#owned.add(index);
    return chunk;
  }

  #checkOpen(): void {
    if (this.#closed) throw new TransactionClosedError(`the draft of blob ${this.blobId} was committed or rolled back`);
  }
}
