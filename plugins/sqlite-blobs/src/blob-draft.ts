/**
 * A draft: uncommitted data of one blob in one blob transaction, stored as rows of the database
 * (never whole in memory). One chunk is buffered while it is being written, so that sequential
 * small writes cost one chunk write per chunk; every other byte lives in SQLite.
 *
 * Zero-extending (a truncate up, or a write past the end) stores no chunk: it records the skipped
 * chunk numbers as a hole of the draft. Sizes and write ends are bounded by MAX_BLOB_SIZE.
 */
import { InvalidArgumentError, MAX_BLOB_SIZE, TransactionClosedError, type BlobDraft, type BlobId } from '@handlerton/framework';
import type { ChunkOwner } from './chunk-check.js';
import type { ChainLevel, ChunkStore } from './chunk-store.js';
import { yieldToLoop } from './yield.js';

export { DROP_BATCH } from './chunk-store.js';

interface DirtyChunk {
  seq: number;
  length: number;
}

/** The BlobDraft of the SQLite blob handlerton. */
export class SqliteDraft implements BlobDraft {
  private buffer: Buffer | undefined;
  private dirty: DirtyChunk | undefined;
  private cached: { seq: number; data: Uint8Array | undefined } | undefined;
  private closed = false;
  private busy = false;
  /** Bytes written to the database by this draft so far. */
  bytesWritten = 0;
  private readonly owner: ChunkOwner;

  constructor(
    private readonly chunks: ChunkStore,
    readonly blobId: BlobId,
    /** The draft's revision row id, then its base chain. */
    private readonly chain: ChainLevel[],
    readonly chunkSize: number,
    private currentSize: number,
  ) {
    this.owner = { blobId, revision: null };
  }

  /** The draft's revision row id. */
  get rowId(): bigint {
    return this.chain[0]!.id;
  }

  size(): number {
    this.checkOpen();
    return this.currentSize;
  }

  async read(target: Uint8Array, position: number): Promise<number> {
    this.checkOpen();
    checkBuffer(target, 'target');
    checkPosition(position);
    const total = Math.min(target.length, Math.max(0, this.currentSize - position));
    let done = 0;
    while (done < total) {
      if (done > 0) {
        await yieldToLoop();
        this.checkOpen();
      }
      const at = position + done;
      const seq = Math.floor(at / this.chunkSize);
      const within = at - seq * this.chunkSize;
      const n = Math.min(this.chunkSize - within, total - done);
      const out = target.subarray(done, done + n);
      if (this.dirty?.seq === seq && this.buffer !== undefined) {
        copyPadded(this.buffer.subarray(0, this.dirty.length), within, out);
      } else {
        copyPadded(this.chunkData(seq), within, out);
      }
      done += n;
    }
    return total;
  }

  async write(source: Uint8Array, position: number): Promise<void> {
    this.checkOpen();
    checkBuffer(source, 'source');
    checkPosition(position);
    if (position > MAX_BLOB_SIZE - source.length) {
      throw new InvalidArgumentError(
        `blob draft write: position ${position} + length ${source.length} ends past the maximum blob size ${MAX_BLOB_SIZE}`,
      );
    }
    this.enter();
    try {
      const before = this.currentSize;
      let done = 0;
      while (done < source.length) {
        const at = position + done;
        const seq = Math.floor(at / this.chunkSize);
        const within = at - seq * this.chunkSize;
        const n = Math.min(this.chunkSize - within, source.length - done);
        if (within === 0 && n === this.chunkSize) {
          // A whole chunk: straight to the database, without passing through the chunk buffer.
          if (this.dirty?.seq === seq) this.dirty = undefined;
          else await this.flush();
          this.checkOpen();
          await this.store(seq, source.subarray(done, done + n));
          done += n;
          continue;
        }
        if (this.dirty?.seq !== seq) {
          await this.flush();
          this.checkOpen();
          this.load(seq, within === 0 && n === this.chunkSize);
        }
        const dirty = this.dirty!;
        this.buffer!.set(source.subarray(done, done + n), within);
        dirty.length = Math.max(dirty.length, within + n);
        done += n;
      }
      // The chunks skipped between the old end and the first chunk written are a hole.
      const skippedTo = source.length === 0 ? Math.ceil(position / this.chunkSize) : Math.floor(position / this.chunkSize);
      await this.chunks.addHole(this.chain[0]!, Math.ceil(before / this.chunkSize), skippedTo);
      this.currentSize = Math.max(this.currentSize, position + source.length);
    } finally {
      this.busy = false;
    }
  }

  async truncate(size: number): Promise<void> {
    this.checkOpen();
    checkPosition(size);
    if (size > MAX_BLOB_SIZE) throw new InvalidArgumentError(`blob draft truncate: size ${size} exceeds the maximum blob size ${MAX_BLOB_SIZE}`);
    this.enter();
    try {
      await this.flush();
      if (size < this.currentSize) {
        await this.chunks.dropDraftFrom(this.rowId, Math.ceil(size / this.chunkSize));
        const tail = size % this.chunkSize;
        if (tail !== 0) {
          const seq = Math.floor(size / this.chunkSize);
          const data = this.chunks.readChunk(this.chain, seq, this.chunkSize, this.owner);
          if (data !== undefined && data.length > tail) await this.chunks.writeChunk(this.rowId, seq, data.subarray(0, tail));
        }
        await this.chunks.limitBase(this.chain, size);
      } else {
        await this.chunks.addHole(this.chain[0]!, Math.ceil(this.currentSize / this.chunkSize), Math.ceil(size / this.chunkSize));
      }
      this.cached = undefined;
      this.currentSize = size;
    } finally {
      this.busy = false;
    }
  }

  /** Writes the buffered chunk to the database. */
  async flush(): Promise<void> {
    const dirty = this.dirty;
    if (dirty === undefined || this.buffer === undefined) return;
    this.dirty = undefined;
    await this.store(dirty.seq, this.buffer.subarray(0, dirty.length));
  }

  /** Writes chunk `seq`, then lets the loop run (and waits if the WAL must be checkpointed first). */
  private async store(seq: number, data: Uint8Array): Promise<void> {
    await this.chunks.writeChunk(this.rowId, seq, data);
    this.bytesWritten += data.length;
    if (this.cached?.seq === seq) this.cached = undefined;
    this.chunks.conn.noteWal(data.length + 4096);
    await this.chunks.conn.throttle();
    await yieldToLoop();
  }

  /** Ends the draft's life (commit or rollback of its transaction). */
  close(): void {
    this.closed = true;
    this.dirty = undefined;
    this.buffer = undefined;
    this.cached = undefined;
  }

  /** True after close. */
  get isClosed(): boolean {
    return this.closed;
  }

  private load(seq: number, overwrite: boolean): void {
    this.buffer ??= Buffer.alloc(this.chunkSize);
    if (overwrite) {
      this.dirty = { seq, length: 0 };
      return;
    }
    const data = this.chunkData(seq);
    this.buffer.fill(0);
    if (data !== undefined) this.buffer.set(data, 0);
    this.dirty = { seq, length: data?.length ?? 0 };
  }

  /** Chunk `seq` as the draft sees it (undefined: zeros); nothing is stored at or past the draft's end. */
  private chunkData(seq: number): Uint8Array | undefined {
    if (seq * this.chunkSize >= this.currentSize) return undefined;
    if (this.cached?.seq !== seq) this.cached = { seq, data: this.chunks.readChunk(this.chain, seq, this.chunkSize, this.owner) };
    return this.cached.data;
  }

  private enter(): void {
    if (this.busy) throw new InvalidArgumentError('blob draft: another write or truncate is still running on this draft');
    this.busy = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new TransactionClosedError(`the draft of blob ${this.blobId} ended with its transaction`);
  }
}

/** Copies `source[from...]` into `out`, filling what the source lacks with zeros. */
export function copyPadded(source: Uint8Array | undefined, from: number, out: Uint8Array): void {
  const available = source === undefined ? 0 : Math.max(0, Math.min(out.length, source.length - from));
  if (available > 0) out.set(source!.subarray(from, from + available), 0);
  if (available < out.length) out.fill(0, available);
}

function checkPosition(position: number): void {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new InvalidArgumentError(`blob position/size must be a non-negative safe integer, got ${String(position)}`);
  }
}

function checkBuffer(value: Uint8Array, what: string): void {
  if (!(value instanceof Uint8Array)) throw new InvalidArgumentError(`${what} must be a Uint8Array`);
}
