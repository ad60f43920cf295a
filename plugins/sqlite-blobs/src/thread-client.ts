/**
 * Request/reply over a worker thread of this engine: each request gets an id and a promise settled
 * by the reply with that id (`{ id, error, code }` rejects with an Error carrying the SQLite code).
 * The thread does not keep the process alive while idle. If it cannot start or dies, `alive` turns
 * false and pending requests reject; callers then fall back to their own connection.
 */
import { Worker, type TransferListItem } from 'node:worker_threads';
import { WORKER_EXEC_ARGV, WORKER_LIMITS } from './worker-args.js';

interface Reply {
  readonly id: number;
  readonly error?: string;
  readonly code?: string;
}

/** A worker thread answering requests by id. */
export class ThreadClient<R extends Reply> {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (reply: R) => void; reject: (error: Error) => void }>();
  private dead: Error | undefined;
  private stopped = false;

  constructor(script: URL, workerData: unknown, name: string) {
    this.worker = new Worker(script, { workerData, execArgv: [...WORKER_EXEC_ARGV], resourceLimits: WORKER_LIMITS });
    this.worker.unref();
    this.worker.on('message', (reply: R) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) this.worker.unref();
      if (waiter === undefined) return;
      if (reply.error === undefined) waiter.resolve(reply);
      else waiter.reject(Object.assign(new Error(reply.error), { code: reply.code }));
    });
    this.worker.on('error', (error) => this.die(error));
    this.worker.on('exit', () => this.die(new Error(`${name} thread exited`)));
  }

  /** False once the thread failed or was stopped. */
  get alive(): boolean {
    return this.dead === undefined && !this.stopped;
  }

  /** Sends `message` (with an id added) and resolves with the reply. */
  request(message: Record<string, unknown>, transfer: readonly TransferListItem[] = []): Promise<R> {
    if (this.dead !== undefined) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** Ends the thread (after the caller drained its requests). */
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
