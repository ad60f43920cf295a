/** The Node flags and heap limits a worker thread of this engine starts with. */

/**
 * None. By default a worker inherits the parent's flags, and Node refuses some of them in a worker
 * started from a file (`--input-type`, as in `node --input-type=module -e ...`), while passing them
 * explicitly fails for V8 flags such as `--max-old-space-size`. The threads need no flag.
 */
export const WORKER_EXEC_ARGV: readonly string[] = Object.freeze([]);

/**
 * Heap limits of the engine's threads: they allocate only small messages, and a default-sized young
 * generation (grown to tens of MiB by that churn) showed as +23 MiB of RSS while a 1 GiB blob streamed.
 */
export const WORKER_LIMITS = Object.freeze({ maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 32 });
