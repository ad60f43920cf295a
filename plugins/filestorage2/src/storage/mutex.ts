/** A FIFO async mutex (the commit lock). */

/** Grants one holder at a time, in request order. */
export class Mutex {
  private held = false;
  private readonly waiters: (() => void)[] = [];

  /** Resolves when the caller holds the lock. */
  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Passes the lock to the next waiter, or frees it. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
  }

  /** True while someone holds the lock. */
  get locked(): boolean {
    return this.held;
  }
}
