/** The main thread's side of the chunk-writer thread (chunk-writer-worker.ts). */
import type { ChunkWriterInit } from './chunk-writer-worker.js';
import { ThreadClient } from './thread-client.js';

/** A chunk-writing thread for one blob database file. */
export class ChunkWriter {
  private readonly thread: ThreadClient<{ id: number }>;

  constructor(init: ChunkWriterInit) {
    this.thread = new ThreadClient(new URL('./chunk-writer-worker.js', import.meta.url), init, 'chunk writer');
  }

  /** False once the thread failed or was stopped. */
  get alive(): boolean {
    return this.thread.alive;
  }

  /** Writes chunk `seq` of draft `rev` in the thread (the bytes are copied: the caller may reuse `data`). */
  async write(rev: bigint, seq: number, data: Uint8Array): Promise<void> {
    const copy = new Uint8Array(data);
    await this.thread.request({ rev, seq, data: copy }, [copy.buffer]);
  }

  /** Ends the thread. */
  stop(): Promise<void> {
    return this.thread.stop();
  }
}
