/**
 * Runs WAL checkpoints in a worker thread (see checkpoint-worker.ts) and applies back-pressure:
 * writers report WAL bytes with `note(bytes)`, which starts a background checkpoint every few MiB,
 * and call `throttle()`, which, once the WAL holds more than a bound, waits (asynchronously) until it is fully checkpointed
 * so that SQLite can restart it from the beginning. The main connection's own auto-checkpoint,
 * which copies and fsyncs synchronously on the event loop, stays on only as a safety net with a high
 * threshold (it fires only if the estimates given to `note` fall far short).
 */
import type { FileSystem } from '@handlerton/framework';
import { ThreadClient } from './thread-client.js';

/** Start a background checkpoint after this many bytes written. */
const CHECKPOINT_EVERY = 16 * 1024 * 1024;
/** Wait for a complete checkpoint once this many bytes sit in the WAL. */
const WAL_BOUND = 256 * 1024 * 1024;
/** The WAL file (kept at up to `journal_size_limit` = WAL_BOUND after a restart) beyond this means the estimate fell short. */
const WAL_FILE_GUARD = WAL_BOUND + 64 * 1024 * 1024;

interface Reply {
  readonly id: number;
  readonly log?: number;
  readonly checkpointed?: number;
  readonly error?: string;
}

/** A checkpointing worker for one database file. */
export class Checkpointer {
  private readonly thread: ThreadClient<Reply>;
  private inFlight: Promise<Reply> | undefined;
  private sinceRequest = 0;
  private sinceComplete = 0;
  private readonly walFile: string;

  /** `fs` serves the WAL size check; the worker's own I/O is SQLite's (native), see README "Fault injection". */
  constructor(
    file: string,
    busyTimeoutMs: number,
    private readonly fs: FileSystem,
  ) {
    this.walFile = `${file}-wal`;
    this.thread = new ThreadClient<Reply>(new URL('./checkpoint-worker.js', import.meta.url), { file, busyTimeoutMs }, 'checkpoint');
  }

  /** False once the worker failed (the caller then falls back to SQLite's auto-checkpoint). */
  get alive(): boolean {
    return this.thread.alive;
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
      return this.fs.statSync(this.walFile).size;
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
    if (this.inFlight !== undefined) await this.inFlight;
    await this.thread.stop();
  }

  /** Runs one checkpoint; a failure (of the checkpoint or of the thread) comes back as `error`. */
  private request(): Promise<Reply> {
    const pending = this.thread.request({}).catch((error: unknown) => ({ id: 0, error: error instanceof Error ? error.message : String(error) }));
    this.inFlight = pending;
    void pending.then(() => {
      if (this.inFlight === pending) this.inFlight = undefined;
    });
    return pending;
  }
}
