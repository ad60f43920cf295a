/**
 * A FIFO of write operations on one database file. Blob chunks are written by a worker thread's
 * connection while the main thread writes metadata; SQLite allows one writer at a time, and a
 * main-thread write that met the worker's lock would sleep in SQLite's busy handler on the event
 * loop. Every write of the blob file therefore goes through the lane, one at a time, in order.
 */
export class WriteLane {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `op` after every operation queued before it; resolves with its result. */
  run<T>(op: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(op, op);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Resolves once every operation queued so far has finished. */
  async drain(): Promise<void> {
    await this.tail;
  }
}
