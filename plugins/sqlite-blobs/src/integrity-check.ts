/** `PRAGMA integrity_check` of a database file in a worker thread (integrity-worker.ts), for `verify`. */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { VerifyCollector } from '@handlerton/framework';

/**
 * Runs integrity_check on `file` off the event loop; every message other than `ok` becomes a problem.
 * With `lockFile`, `file` is a writer lock file (a small SQLite file): a missing one is fine, and a
 * busy one is held by a live writer (fine too).
 */
export async function integrityCheck(file: string, c: VerifyCollector, lockFile = false): Promise<void> {
  if (lockFile && !existsSync(file)) return;
  const reply = await new Promise<{ messages?: string[]; error?: string }>((resolve) => {
    const worker = new Worker(new URL('./integrity-worker.js', import.meta.url), { workerData: { file } });
    worker.once('message', (message: { messages?: string[]; error?: string }) => resolve(message));
    worker.once('error', (error) => resolve({ error: error.message }));
    worker.once('exit', (code) => resolve({ error: `integrity_check worker exited with code ${code}` }));
  });
  c.count(lockFile ? 'writer lock files' : 'integrity checks');
  const damaged = lockFile ? 'the writer lock file is damaged, so a writable open fails; it holds no data: delete it while no process has the database open' : '';
  if (reply.error !== undefined) {
    if (lockFile && /locked|busy/i.test(reply.error)) return;
    c.problem(file, undefined, lockFile ? `${damaged} (${reply.error})` : `integrity_check could not run: ${reply.error}`);
    return;
  }
  for (const message of reply.messages ?? []) if (message !== 'ok') c.problem(file, undefined, lockFile ? `${damaged} (${message})` : `integrity_check: ${message}`);
}
