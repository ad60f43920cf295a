/**
 * PostgreSQL scale-out (issue 14): total commit throughput of 1, 2, 4 and 8 client PROCESSES
 * against one server, each committing 100 × 200 B transactions to its own objects through the
 * Database API (`mode` "db"; "db-rbf" with the storage option `releaseBeforeFlush`) or as raw `pg`
 * inserts in the same shape (`mode` "raw", the reference curve). Every level forks fresh client processes, starts them together and sums their rates.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Benchmark } from '../harness/context.js';
import { openPgStorage, withPgServer } from '../harness/pg-server.js';
import type { PgClientMessage, PgClientRequest } from '../pg-client.js';

const CLIENT = fileURLToPath(new URL('../pg-client.js', import.meta.url));

/** The client counts of the curve. */
export const SCALE_CLIENTS = [1, 2, 4, 8] as const;

/** Runs `clients` client processes at once; resolves with their summed commits per second. */
async function level(request: Omit<PgClientRequest, 'index' | 'schema'>, schemaOf: (index: number) => string, clients: number, timeoutSec: number): Promise<number> {
  const children = Array.from({ length: clients }, (_, index) =>
    fork(CLIENT, [JSON.stringify({ ...request, index, schema: schemaOf(index) } satisfies PgClientRequest)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const next = (child: (typeof children)[number], want: PgClientMessage['type']): Promise<PgClientMessage> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`a client process exited (code ${String(code)}) before "${want}"`));
      child.once('exit', onExit);
      child.once('message', (message: PgClientMessage) => {
        child.off('exit', onExit);
        if (message.type === 'error') reject(new Error(`client failed: ${message.reason}`));
        else if (message.type !== want) reject(new Error(`client sent "${message.type}", expected "${want}"`));
        else resolve(message);
      });
    });
  const timer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), timeoutSec * 1000);
  try {
    await Promise.all(children.map((c) => next(c, 'ready')));
    const done = children.map((c) => next(c, 'done'));
    for (const c of children) c.send('go');
    const results = await Promise.all(done);
    let total = 0;
    for (const r of results) if (r.type === 'done') total += r.count / (r.ms / 1000);
    return total;
  } finally {
    clearTimeout(timer);
    await Promise.all(
      children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((resolve) => c.once('exit', resolve)))),
    );
  }
}

/**
 * The curve in one trial on one server (durable unless `durable` is false): for each client count,
 * fresh processes commit for a 1 s warm-up and `seconds` measured. Metrics `c1`..`c8` (txn/s, all
 * clients together) and `c4x` (4 clients over 1).
 */
export const pgScale: Benchmark = async (ctx) => {
  const seconds = ctx.num('seconds', 3);
  const asked = ctx.str('mode', 'db');
  const mode = asked === 'raw' ? 'raw' : asked === 'db-rbf' ? 'db-rbf' : 'db';
  return withPgServer(ctx.bool('durable', true), async (server) => {
    const metrics: Record<string, number> = { durable: server.durable ? 1 : 0 };
    for (const clients of SCALE_CLIENTS) {
      // Engine clients share one schema (created here before they race to migrate it); raw clients each get their own.
      const shared = server.schema(`scale_${mode.replace('-', '_')}_${clients}`);
      if (mode !== 'raw') await (await openPgStorage(server, shared)).close();
      const rawSchemas = Array.from({ length: clients }, (_, i) => (mode === 'raw' ? server.schema(`scale_raw_${clients}_${i}`) : shared));
      metrics[`c${clients}`] = await level({ url: server.url, mode, warmUpSeconds: 1, seconds }, (i) => rawSchemas[i] ?? shared, clients, 120 + seconds);
    }
    metrics['c4x'] = (metrics['c4'] ?? 0) / (metrics['c1'] ?? 1);
    return metrics;
  });
};
