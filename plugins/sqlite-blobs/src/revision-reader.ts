/** Reader of one committed blob revision; it keeps the revision from being reclaimed until closed. */
import { InvalidArgumentError, HandleClosedError, type RevisionReader } from '@handlerton/framework';
import { copyPadded } from './blob-draft.js';
import type { ChunkOwner } from './chunk-check.js';
import type { ChainLevel, ChunkStore } from './chunk-store.js';
import { yieldToLoop } from './yield.js';

/**
 * The RevisionReader of the SQLite blob handlerton. It caches the last chunk it read (verified
 * against its checksum once, when fetched), so a stream of small reads checks each chunk once.
 */
export class SqliteRevisionReader implements RevisionReader {
  private cached: { seq: number; data: Uint8Array | undefined } | undefined;
  private closed = false;

  constructor(
    private readonly chunks: ChunkStore,
    private readonly chain: readonly ChainLevel[],
    readonly size: number,
    private readonly chunkSize: number,
    private readonly onClose: () => void,
    /** The blob and revision read (named when a chunk is damaged). */
    private readonly owner: ChunkOwner,
  ) {}

  async read(target: Uint8Array, position: number): Promise<number> {
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
      if (this.cached?.seq !== seq) this.cached = { seq, data: this.chunks.readChunk(this.chain, seq, this.chunkSize, this.owner) };
      copyPadded(this.cached.data, within, target.subarray(done, done + n));
      done += n;
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cached = undefined;
    this.onClose();
  }
}
