/**
 * The main thread's side of the chunk-writer worker (chunk-writer-worker.ts): sends one chunk at a
 * time and resolves when its transaction is done. If the thread cannot start or dies, `alive` turns
 * false and the caller writes chunks on its own connection instead.
 */
import { Worker } from 'node:worker_threads';
import { workerExecArgv } from './worker-args.js';
import type { ChunkWriterInit } from './chunk-writer-worker.js';

interface Reply {
  readonly id: number;
  readonly error?: string;
  readonly code?: string;
}

/** A chunk-writing thread for one blob database file. */
export class ChunkWriter {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  private dead: Error | undefined;
  private stopped = false;

  constructor(init: ChunkWriterInit) {
    this.worker = new Worker(new URL('./chunk-writer-worker.js', import.meta.url), { workerData: init, execArgv: workerExecArgv() });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) this.worker.unref();
      if (waiter === undefined) return;
      if (reply.error === undefined) waiter.resolve();
      else waiter.reject(Object.assign(new Error(reply.error), { code: reply.code }));
    });
    this.worker.on('error', (error) => this.die(error));
    this.worker.on('exit', () => this.die(new Error('chunk writer thread exited')));
  }

  /** False once the thread failed or was stopped. */
  get alive(): boolean {
    return this.dead === undefined && !this.stopped;
  }

  /** Writes chunk `seq` of draft `rev` in the thread (the bytes are copied: the caller may reuse `data`). */
  write(rev: bigint, seq: number, data: Uint8Array): Promise<void> {
    if (this.dead !== undefined) return Promise.reject(this.dead);
    const id = this.nextId++;
    const copy = new Uint8Array(data);
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ id, rev, seq, data: copy }, [copy.buffer]);
    });
  }

  /** Ends the thread (after the caller drained its writes). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.dead !== undefined) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.ref();
    this.worker.postMessage({ stop: true });
    await exited;
  }

  private die(error: Error): void {
    if (this.stopped && this.waiting.size === 0) return;
    this.dead ??= error;
    for (const waiter of this.waiting.values()) waiter.reject(this.dead);
    this.waiting.clear();
  }
}
