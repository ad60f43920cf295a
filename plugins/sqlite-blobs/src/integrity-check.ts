/** `PRAGMA integrity_check` of a database file in a worker thread (integrity-worker.ts), for `verify`. */
import { Worker } from 'node:worker_threads';
import type { VerifyCollector } from '@handlerton/framework';

/** Runs integrity_check on `file` off the event loop; every message other than `ok` becomes a problem. */
export async function integrityCheck(file: string, c: VerifyCollector): Promise<void> {
  const reply = await new Promise<{ messages?: string[]; error?: string }>((resolve) => {
    const worker = new Worker(new URL('./integrity-worker.js', import.meta.url), { workerData: { file } });
    worker.once('message', (message: { messages?: string[]; error?: string }) => resolve(message));
    worker.once('error', (error) => resolve({ error: error.message }));
    worker.once('exit', (code) => resolve({ error: `integrity_check worker exited with code ${code}` }));
  });
  c.count('integrity checks');
  if (reply.error !== undefined) {
    c.problem(file, undefined, `integrity_check could not run: ${reply.error}`);
    return;
  }
  for (const message of reply.messages ?? []) if (message !== 'ok') c.problem(file, undefined, `integrity_check: ${message}`);
}
