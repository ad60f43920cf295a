/** The main thread's side of the chunk-reader thread (chunk-reader-worker.ts). */
import type { ChainLevel } from './chunk-store.js';
import type { ChunkReaderInit } from './chunk-reader-worker.js';
import { ThreadClient } from './thread-client.js';

/** A chunk-reading thread for one blob database file. */
export class ChunkReader {
  private readonly thread: ThreadClient<{ id: number; length: number }>;

  constructor(init: ChunkReaderInit) {
    this.thread = new ThreadClient(new URL('./chunk-reader-worker.js', import.meta.url), init, 'chunk reader');
  }

  /** False once the thread failed or was stopped. */
  get alive(): boolean {
    return this.thread.alive;
  }

  /** Reads chunk `seq` as `chain[0]` sees it into `slot`; its length, or -1 for a hole. */
  async read(chain: readonly ChainLevel[], seq: number, chunkSize: number, slot: SharedArrayBuffer): Promise<number> {
    const levels = chain.map((level) => ({ id: level.id, limit: level.limit }));
    const reply = await this.thread.request({ levels, seq, chunkSize, slot });
    return reply.length;
  }

  /** Ends the thread. */
  stop(): Promise<void> {
    return this.thread.stop();
  }
}
