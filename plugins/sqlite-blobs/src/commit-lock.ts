/** A FIFO async mutex: the storage's commit lock. */
export class CommitLock {
  private held = false;
  private readonly waiters: (() => void)[] = [];

  /** Waits until the lock is free, then holds it. */
  async acquire(): Promise<void> {
    while (this.held) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.held = true;
  }

  /** Releases the lock and wakes the next waiter. */
  release(): void {
    this.held = false;
    this.waiters.shift()?.();
  }
}
