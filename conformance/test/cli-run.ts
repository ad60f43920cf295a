/** Runs the `handlerton` command as a spawned process, for the CLI's end-to-end tests. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `handlerton` executable of this repository. */
export const bin = fileURLToPath(new URL('../../../framework/bin/handlerton.js', import.meta.url));
/** The framework's entry, for child scripts that open databases. */
export const frameworkEntry = new URL('../../../framework/dist/src/index.js', import.meta.url).href;

/** What a run printed and how it exited. */
export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `handlerton ...args` in `cwd` (with `input` on stdin when given). */
export function handlerton(cwd: string, args: readonly string[], input?: Buffer): Run {
  const run = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 120_000, ...(input === undefined ? {} : { input }) });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The JSON a successful `--json` run printed; throws with its stderr otherwise. */
export function json<T>(run: Run): T {
  if (run.status !== 0) throw new Error(`exit ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
