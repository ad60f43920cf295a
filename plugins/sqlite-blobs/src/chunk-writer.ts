/** The main thread's side of the chunk-writer thread (chunk-writer-worker.ts). */
import type { ChunkWriterInit } from './chunk-writer-worker.js';
import { ThreadClient } from './thread-client.js';

/**
 * A chunk-writing thread for one blob database file. Chunk bytes pass through one shared buffer
 * (the file's write lane allows one write at a time): no thread allocates per chunk. Transferring a
 * fresh buffer per chunk instead let up to ~150 MiB of dead buffers pile up in the thread between
 * its garbage collections.
 */
export class ChunkWriter {
  private readonly thread: ThreadClient<{ id: number }>;
  private slot = new SharedArrayBuffer(0);

  constructor(init: ChunkWriterInit) {
    this.thread = new ThreadClient(new URL('./chunk-writer-worker.js', import.meta.url), init, 'chunk writer');
  }

  /** False once the thread failed or was stopped. */
  get alive(): boolean {
    return this.thread.alive;
  }

  /** Writes chunk `seq` of draft `rev` in the thread (the bytes are copied: the caller may reuse `data`). One at a time. */
  async write(rev: bigint, seq: number, data: Uint8Array): Promise<void> {
    if (this.slot.byteLength < data.length) this.slot = new SharedArrayBuffer(data.length);
    new Uint8Array(this.slot, 0, data.length).set(data);
    await this.thread.request({ rev, seq, slot: this.slot, length: data.length });
  }

  /** Ends the thread. */
  stop(): Promise<void> {
    return this.thread.stop();
  }
}
