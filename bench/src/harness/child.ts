/** Runs one benchmark trial in a fresh child process (child_process.fork of the worker module). */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerRequest, WorkerResult } from './types.js';

const WORKER = fileURLToPath(new URL('../worker.js', import.meta.url));

/** Forks the worker for `request`; resolves with its result (or a failure) within `timeoutSec`. */
export function runTrial(request: WorkerRequest, timeoutSec: number): Promise<WorkerResult> {
  return new Promise((resolve) => {
    const child = fork(WORKER, [JSON.stringify(request)], {
      execArgv: ['--expose-gc', '--max-old-space-size=4096'],
      env: { ...process.env, UV_THREADPOOL_SIZE: '16' },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let settled = false;
    let stderr = '';
    const finish = (result: WorkerResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ ok: false, unavailable: false, reason: `timed out after ${timeoutSec} s` });
    }, timeoutSec * 1000);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    child.on('message', (message: WorkerResult) => finish(message));
    child.on('exit', (code, signal) => {
      // Let a message that raced the exit arrive first.
      setImmediate(() => {
        const why =
          code === 0
            ? 'worker ran out of work without a result (an awaited promise never settled)'
            : `worker exited (code ${String(code)}, signal ${String(signal)}) without a result`;
        finish({ ok: false, unavailable: false, reason: `${why}${stderr ? `: ${stderr.trim()}` : ''}` });
      });
    });
  });
}
