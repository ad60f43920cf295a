/** Random-access reader of one committed revision, over its chunk files. */
import { join } from 'node:path';
import type { RevisionReader } from '@handlerton/framework';
import { CorruptionError, HandleClosedError } from '@handlerton/framework';
import { assertBytes, assertOffset } from './checks.js';
import { FsOps, ioError } from './fs-ops.js';
import { chunkName } from './layout.js';

/** Chunk files kept open per reader (sequential reads touch one at a time). */
const OPEN_CHUNKS = 4;

interface OpenChunk {
  readonly fd: Promise<number>;
  users: number;
  evicted: boolean;
}

/** Reads a revision's chunk files; holds the revision alive until `close`. */
export class ChunkedRevisionReader implements RevisionReader {
  readonly size: number;
  readonly #ops: FsOps;
  readonly #dir: string;
  readonly #chunkSize: number;
  readonly #open = new Map<number, OpenChunk>();
  readonly #onClose: () => Promise<void>;
  #closed = false;

  constructor(ops: FsOps, dir: string, size: number, chunkSize: number, onClose: () => Promise<void>) {
    this.#ops = ops;
    this.#dir = dir;
    this.size = size;
    this.#chunkSize = chunkSize;
    this.#onClose = onClose;
  }

  /** Reads up to `target.length` bytes at `position`; returns the count (0 at or past the end). */
  async read(target: Uint8Array, position: number): Promise<number> {
    assertBytes(target, 'read target');
    assertOffset(position, 'read position');
    if (this.#closed) throw new HandleClosedError('revision reader is closed');
    const end = Math.min(this.size, position + target.length);
    let done = 0;
    while (position + done < end) {
      const at = position + done;
      const index = Math.floor(at / this.#chunkSize);
      const offset = at - index * this.#chunkSize;
      const length = Math.min(end - at, this.#chunkSize - offset);
      const chunk = this.#acquire(index);
      try {
        const fd = await chunk.fd;
        const got = await this.#ops.readFully(fd, target, done, length, offset);
        if (got < length) {
          throw new CorruptionError(`blob chunk is shorter than its revision says`, join(this.#dir, chunkName(index)), offset + got);
        }
      } catch (error) {
        if (error instanceof CorruptionError || this.#closed) throw error;
        throw ioError(`reading blob chunk ${join(this.#dir, chunkName(index))}`, error);
      } finally {
        this.#release(chunk);
      }
      done += length;
    }
    return done;
  }

  /** Releases the revision. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const chunks = [...this.#open.values()];
    this.#open.clear();
    for (const chunk of chunks) {
      chunk.evicted = true;
      if (chunk.users === 0) this.#closeChunk(chunk);
    }
    await this.#onClose();
  }

  #acquire(index: number): OpenChunk {
    let chunk = this.#open.get(index);
    if (chunk !== undefined) {
      this.#open.delete(index);
    } else {
      chunk = { fd: this.#ops.open(join(this.#dir, chunkName(index)), 'r'), users: 0, evicted: false };
      chunk.fd.catch(() => undefined);
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
    chunk.fd.then((fd) => this.#ops.close(fd)).catch(() => undefined);
  }
}
