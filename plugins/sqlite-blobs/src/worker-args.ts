/** The Node flags a worker thread of this engine starts with. */

/**
 * None. By default a worker inherits the parent's flags, and Node refuses some of them in a worker
 * started from a file (`--input-type`, as in `node --input-type=module -e ...`), while passing them
 * explicitly fails for V8 flags such as `--max-old-space-size`. The threads need no flag.
 */
export function workerExecArgv(): string[] {
  return [];
}
