/**
 * Runs WAL checkpoints in a worker thread (see checkpoint-worker.ts) and applies back-pressure:
 * writers report WAL bytes with `note(bytes)`, which starts a background checkpoint every few MiB,
 * and call `throttle()`, which, once the WAL holds more than a bound, waits (asynchronously) until it is fully checkpointed
 * so that SQLite can restart it from the beginning. The main connection's own auto-checkpoint,
 * which copies and fsyncs synchronously on the event loop, stays on only as a safety net with a high
 * threshold (it fires only if the estimates given to `note` fall far short).
 */
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { WORKER_LIMITS, workerExecArgv } from './worker-args.js';

/** Start a background checkpoint after this many bytes written. */
const CHECKPOINT_EVERY = 16 * 1024 * 1024;
/** Wait for a complete checkpoint once this many bytes sit in the WAL. */
const WAL_BOUND = 256 * 1024 * 1024;
/** The WAL file (kept at up to `journal_size_limit` = WAL_BOUND after a restart) beyond this means the estimate fell short. */
const WAL_FILE_GUARD = WAL_BOUND + 64 * 1024 * 1024;

interface Reply {
  id: number;
  log?: number;
  checkpointed?: number;
  error?: string;
}

/** A checkpointing worker for one database file. */
export class Checkpointer {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: Reply) => void>();
  private inFlight: Promise<Reply> | undefined;
  private sinceRequest = 0;
  private sinceComplete = 0;
  private stopped = false;
  private dead: Error | undefined;

  private readonly walFile: string;

  constructor(file: string, busyTimeoutMs: number) {
    this.walFile = `${file}-wal`;
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { file, busyTimeoutMs }, execArgv: workerExecArgv(), resourceLimits: WORKER_LIMITS });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const resolve = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) this.worker.unref();
      resolve?.(reply);
    });
    this.worker.on('error', (error) => this.die(error));
    this.worker.on('exit', () => this.die(new Error('checkpoint worker exited')));
  }

  /** False once the worker failed (the caller then falls back to SQLite's auto-checkpoint). */
  get alive(): boolean {
    return this.dead === undefined && !this.stopped;
  }

  /** Accounts `bytes` written to the WAL; starts a background checkpoint every few MiB. */
  note(bytes: number): void {
    if (!this.alive) return;
    this.sinceRequest += bytes;
    this.sinceComplete += bytes;
    if (this.sinceRequest >= CHECKPOINT_EVERY && this.inFlight === undefined) {
      this.sinceRequest = 0;
      void this.request();
    }
  }

  /** Waits (without blocking the loop) for a complete checkpoint when the WAL grew past its bound. */
  async throttle(): Promise<void> {
    // The estimate drives it; the WAL file's size (never below the log's) guards against a low estimate.
    if (this.alive && (this.sinceComplete >= WAL_BOUND || this.walFileSize() >= WAL_FILE_GUARD)) await this.drain();
  }

  private walFileSize(): number {
    try {
      return statSync(this.walFile).size;
    } catch {
      return 0;
    }
  }

  /** Runs checkpoints until the whole WAL is copied into the database (or the worker fails). */
  async drain(): Promise<void> {
    for (let round = 0; round < 8 && this.alive; round++) {
      if (this.inFlight !== undefined) await this.inFlight;
      const reply = await this.request();
      if (reply.error !== undefined || reply.log === reply.checkpointed) break;
    }
    this.sinceComplete = 0;
    this.sinceRequest = 0;
  }

  /** Waits for a running checkpoint, then ends the worker. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    if (this.inFlight !== undefined) await this.inFlight;
    this.stopped = true;
    if (this.dead !== undefined) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.ref();
    this.worker.postMessage({ stop: true });
    await exited;
  }

  private request(): Promise<Reply> {
    if (this.dead !== undefined) return Promise.resolve({ id: 0, error: this.dead.message });
    const id = this.nextId++;
    const pending = new Promise<Reply>((resolve) => this.waiting.set(id, resolve));
    // Keep the process alive while a reply is awaited; idle, the worker must not hold it open.
    this.worker.ref();
    this.inFlight = pending;
    this.worker.postMessage({ id });
    void pending.then(() => {
      if (this.inFlight === pending) this.inFlight = undefined;
    });
    return pending;
  }

  private die(error: Error): void {
    if (this.dead !== undefined) return;
    this.dead = error;
    for (const [id, resolve] of this.waiting) resolve({ id, error: error.message });
    this.waiting.clear();
  }
}
