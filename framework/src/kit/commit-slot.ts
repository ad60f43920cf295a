/**
 * The commit lock every engine needs (engine-author kit): one storage transaction at a time holds
 * it, from `tpcBegin` until `tpcFinish` or `tpcAbort`; the others wait in `tpcBegin`, first come
 * first served. It also answers the questions every 2PC method asks ("is this the transaction that
 * is committing? has it voted?") with the framework's typed errors, so an engine keeps only its
 * own per-transaction state.
 */
import { StorageClosedError, StorageTransactionError } from '../contracts/errors.js';
import type { StorageTransaction } from '../contracts/storage.js';

/** What an engine keeps for the transaction holding the lock: at least the caller's transaction and whether it voted. */
export interface CommitState {
  readonly txn: StorageTransaction;
  voted: boolean;
}

/** A first-come-first-served commit lock holding the active transaction's state `S`. */
export class CommitSlot<S extends CommitState> {
  readonly #engine: string;
  #active: S | null = null;
  #locked = false;
  readonly #queue: (() => void)[] = [];
  readonly #waiting = new Set<StorageTransaction>();
  readonly #abandoned = new Set<StorageTransaction>();
  #closed = false;

  /** `engine` names the storage in StorageClosedError messages. */
  constructor(engine: string) {
    this.#engine = engine;
  }

  /**
   * `tpcBegin`'s part: waits for the lock on behalf of `txn`, then calls `start` under it and keeps
   * what it returns as the active state. When `start` throws (or the storage closed, or `txn` was
   * aborted while it waited), the lock passes on and the error propagates.
   */
  async begin(txn: StorageTransaction, start: () => S | Promise<S>): Promise<S> {
    this.checkOpen();
    if (this.#active?.txn === txn || this.#waiting.has(txn)) throw new StorageTransactionError('this transaction has already begun');
    this.#waiting.add(txn);
    try {
      if (this.#locked) await new Promise<void>((resolve) => this.#queue.push(resolve));
      else this.#locked = true;
    } finally {
      this.#waiting.delete(txn);
    }
    try {
      this.checkOpen();
      if (this.#abandoned.has(txn)) throw new StorageTransactionError('the transaction was aborted before it began');
      const state = await start();
      this.checkOpen();
      this.#active = state;
      return state;
    } catch (error) {
      this.#passOn();
      throw error;
    } finally {
      this.#abandoned.delete(txn);
    }
  }

  /** The state of `txn` if it holds the lock and has not voted (store, storeMany, deleteObject, restore, tpcVote). */
  writing(txn: StorageTransaction): S {
    const active = this.active(txn);
    if (active.voted) throw new StorageTransactionError('the transaction has already voted');
    return active;
  }

  /** The state of `txn` if it holds the lock (tpcFinish). */
  active(txn: StorageTransaction): S {
    this.checkOpen();
    if (this.#active === null || this.#active.txn !== txn) {
      throw new StorageTransactionError('the transaction is not the one committing in this storage');
    }
    return this.#active;
  }

  /** The state of whichever transaction holds the lock, if any (e.g. for close). */
  get current(): S | null {
    return this.#active;
  }

  /**
   * `tpcAbort`'s part: the state of `txn` when it holds the lock (the engine undoes its work, then
   * calls `end`); undefined otherwise, after marking `txn` so that it gives up if it is still waiting.
   */
  abort(txn: StorageTransaction): S | undefined {
    if (this.#active?.txn === txn) return this.#active;
    if (this.#waiting.has(txn)) this.#abandoned.add(txn);
    return undefined;
  }

  /** Ends the transaction of `txn` (after its finish or abort) and hands the lock to the next waiter. */
  end(txn: StorageTransaction): void {
    if (this.#active?.txn !== txn) return;
    this.#passOn();
  }

  /** Refuses everything from now on and wakes every waiter (each fails with StorageClosedError). */
  close(): void {
    this.#closed = true;
    this.#active = null;
    for (const wake of this.#queue.splice(0)) wake();
    this.#locked = false;
  }

  /** True once `close` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** StorageClosedError once the slot is closed. */
  checkOpen(): void {
    if (this.#closed) throw new StorageClosedError(`the ${this.#engine} storage is closed`);
  }

  #passOn(): void {
    this.#active = null;
    const next = this.#queue.shift();
    if (next !== undefined) next();
    else this.#locked = false;
  }
}
