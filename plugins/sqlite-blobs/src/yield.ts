/** Lets timers and I/O callbacks run (awaiting a resolved promise does not). */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
