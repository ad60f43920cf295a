/**
 * The in-process half of the commit lock: transactions of one client queue here, first come first
 * served, so that only one pool connection at a time waits on the server's commit lock.
 */
import { StorageClosedError } from '@handlerton/framework';

/** A FIFO lock whose waiters are keyed by transaction, and may be abandoned while they wait. */
export class CommitQueue<T> {
  #locked = false;
  #queue: (() => void)[] = [];
  readonly #waiting = new Set<T>();
  readonly #abandoned = new Set<T>();
  #closed = false;

  /** Waits for the lock on behalf of `key`; StorageClosedError when the queue closes first. */
  async acquire(key: T): Promise<void> {
    this.#waiting.add(key);
    if (this.#locked) await new Promise<void>((resolve) => this.#queue.push(resolve));
    else this.#locked = true;
    if (this.#closed) throw new StorageClosedError('the storage was closed while the transaction waited to begin');
  }

  /** True while `key` waits for (or is being handed) the lock. */
  isWaiting(key: T): boolean {
    return this.#waiting.has(key);
  }

  /** Marks a waiting `key` as abandoned (its tpcAbort came before it got the lock). */
  abandon(key: T): void {
    if (this.#waiting.has(key)) this.#abandoned.add(key);
  }

  /** True when `key` was abandoned while it waited. */
  wasAbandoned(key: T): boolean {
    return this.#abandoned.has(key);
  }

  /** Forgets `key` once it holds the lock (or gave up). */
  forget(key: T): void {
    this.#waiting.delete(key);
    this.#abandoned.delete(key);
  }

  /** Hands the lock to the longest waiter, or frees it. */
  release(): void {
    const next = this.#queue.shift();
    if (next !== undefined) next();
    else this.#locked = false;
  }

  /** Wakes every waiter (they find the queue closed). */
  close(): void {
    this.#closed = true;
    for (const wake of this.#queue.splice(0)) wake();
    this.#locked = false;
  }
}
