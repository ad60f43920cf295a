/** Reader of one committed blob revision; it keeps the revision from being reclaimed until closed. */
import { InvalidArgumentError, HandleClosedError, type RevisionReader } from '@handlerton/framework';
import { copyPadded } from './blob-draft.js';
import type { ChainLevel, ChunkStore } from './chunk-store.js';
import { yieldToLoop } from './yield.js';

/**
 * The RevisionReader of the SQLite blob handlerton. Chunks arrive in the reader's own shared buffer
 * (one chunk, reused), which also caches the last chunk read.
 */
export class SqliteRevisionReader implements RevisionReader {
  private cached: { seq: number; data: Uint8Array | undefined } | undefined;
  private slot: SharedArrayBuffer | undefined;
  /** Reads run one at a time: they share the slot. */
  private turn: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly chunks: ChunkStore,
    private readonly chain: readonly ChainLevel[],
    readonly size: number,
    private readonly chunkSize: number,
    private readonly onClose: () => void,
  ) {}

  read(target: Uint8Array, position: number): Promise<number> {
    const result = this.turn.then(() => this.readNow(target, position));
    this.turn = result.catch(() => undefined);
    return result;
  }

  private async readNow(target: Uint8Array, position: number): Promise<number> {
    if (this.closed) throw new HandleClosedError('blob revision reader is closed');
    if (!(target instanceof Uint8Array)) throw new InvalidArgumentError('target must be a Uint8Array');
    if (!Number.isSafeInteger(position) || position < 0) {
      throw new InvalidArgumentError(`read position must be a non-negative safe integer, got ${String(position)}`);
    }
    const total = Math.min(target.length, Math.max(0, this.size - position));
    let done = 0;
    while (done < total) {
      if (done > 0) await yieldToLoop();
      if (this.closed) throw new HandleClosedError('blob revision reader is closed');
      const at = position + done;
      const seq = Math.floor(at / this.chunkSize);
      const within = at - seq * this.chunkSize;
      const n = Math.min(this.chunkSize - within, total - done);
      if (this.cached?.seq !== seq) {
        this.cached = undefined;
        this.slot ??= new SharedArrayBuffer(this.chunkSize);
        const length = await this.chunks.readCommittedChunk(this.chain, seq, this.chunkSize, this.slot);
        if (this.closed) throw new HandleClosedError('blob revision reader is closed');
        this.cached = { seq, data: length < 0 ? undefined : new Uint8Array(this.slot, 0, length) };
      }
      copyPadded(this.cached.data, within, target.subarray(done, done + n));
      done += n;
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cached = undefined;
    this.slot = undefined;
    this.onClose();
  }
}
