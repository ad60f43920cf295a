/** Lets long loops give the event loop a turn: tick() is cheap, pause() waits one macrotask. */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Tracks how long a loop has run since it last yielded. */
export class Yielder {
  #ticks = 0;
  #since = performance.now();

  /** `sliceMs`: the longest stretch of synchronous work between two pauses. */
  constructor(readonly sliceMs = 10) {}

  /** Counts one step; true when the loop has run for `sliceMs` and should pause(). */
  tick(): boolean {
    if ((++this.#ticks & 255) !== 0) return false;
    return performance.now() - this.#since >= this.sliceMs;
  }

  /** Yields to the event loop (timers and I/O run). */
  async pause(): Promise<void> {
    await nextTurn();
    this.#since = performance.now();
  }
}
