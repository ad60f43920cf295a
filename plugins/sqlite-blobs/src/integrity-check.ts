/** `PRAGMA integrity_check` and cross-table queries of a database file in a worker thread (integrity-worker.ts), for `verify`. */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { VerifyCollector } from '@handlerton/framework';

/** A query listing inconsistent rows, and how to describe each one as a problem. */
export interface ConsistencyQuery {
  readonly sql: string;
  readonly describe: (row: Record<string, unknown>) => string;
}

interface Reply {
  readonly messages?: string[];
  readonly results?: { rows?: Record<string, unknown>[]; error?: string }[];
  readonly error?: string;
}

/**
 * Runs integrity_check on `file` off the event loop, then `queries`; every integrity_check message
 * other than `ok` and every row a query returns becomes a problem. With `lockFile`, `file` is a
 * writer lock file (a small SQLite file): a missing one is fine, and a busy one is held by a live
 * writer (fine too).
 */
export async function integrityCheck(file: string, c: VerifyCollector, lockFile = false, queries: readonly ConsistencyQuery[] = []): Promise<void> {
  if (lockFile && !existsSync(file)) return;
  const reply = await new Promise<Reply>((resolve) => {
    const worker = new Worker(new URL('./integrity-worker.js', import.meta.url), { workerData: { file, queries: queries.map((q) => q.sql) } });
    worker.once('message', (message: Reply) => resolve(message));
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
  queries.forEach((query, i) => {
    const result = reply.results?.[i];
    c.count('cross-table checks');
    if (result?.error !== undefined) c.problem(file, undefined, `cross-table check failed: ${result.error}`);
    for (const row of result?.rows ?? []) c.problem(file, undefined, query.describe(row));
  });
}
