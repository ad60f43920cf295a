/**
 * One client process of the PostgreSQL scale-out benchmark (forked by `pg.scale`): opens the engine
 * (or a raw `pg` client) on the shared server, creates its own 100 objects, reports "ready", and on
 * "go" commits 100 × 200 B transactions for a warm-up and then for the measured seconds; it sends
 * back how many it committed and over how long.
 */
import type { Oid } from '@handlerton/framework';
import { rawPgCommitter } from './benchmarks/pg-commit.js';
import { nowMs } from './harness/io.js';
import { loadPostgresPlugin, openPgDatabase, rawClient, type PgBench } from './harness/pg-server.js';
import { payloads, RECORDS_PER_TXN } from './harness/workload.js';

/** What the parent passes (JSON in argv[2]). */
export interface PgClientRequest {
  readonly url: string;
  /** The engine's schema (shared by the engine clients), or this raw client's own schema. */
  readonly schema: string;
  /** "db": Database API transactions on the engine; "db-rbf": the same with the storage option releaseBeforeFlush; "raw": raw pg inserts in the same shape. */
  readonly mode: 'db' | 'db-rbf' | 'raw';
  readonly index: number;
  readonly warmUpSeconds: number;
  readonly seconds: number;
}

/** Messages to the parent. */
export type PgClientMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly count: number; readonly ms: number }
  | { readonly type: 'error'; readonly reason: string };

function send(message: PgClientMessage): Promise<void> {
  return new Promise((resolve) => (process.send === undefined ? resolve() : process.send(message, () => resolve())));
}

async function runClient(request: PgClientRequest): Promise<void> {
  const data = payloads();
  const server: PgBench = { url: request.url, origin: 'env', durable: true, plugin: await loadPostgresPlugin(), schema: (p) => p };
  let commit: (i: number) => Promise<void>;
  let close: () => Promise<void>;
  if (request.mode === 'raw') {
    const client = await rawClient(request.url);
    commit = await rawPgCommitter(client, request.schema, data);
    close = () => client.end();
  } else {
    const db = await openPgDatabase(server, request.schema, request.mode === 'db-rbf' ? { releaseBeforeFlush: true } : {});
    const oids = await db.transaction(async (tx) => {
      const made: Oid[] = [];
      for (let r = 0; r < RECORDS_PER_TXN; r += 1) made.push(await tx.create(data[r % data.length] as Buffer));
      return made;
    });
    commit = async (i) => {
      await db.transaction(async (tx) => {
        for (const [r, oid] of oids.entries()) await tx.write(oid, data[(r + i) % data.length] as Buffer);
      });
    };
    close = () => db.close();
  }
  try {
    await send({ type: 'ready' });
    await new Promise<void>((resolve) => process.once('message', () => resolve()));
    let i = 0;
    const loop = async (seconds: number): Promise<{ count: number; ms: number }> => {
      const start = nowMs();
      const deadline = start + seconds * 1000;
      let count = 0;
      while (nowMs() < deadline) {
        await commit(i);
        i += 1;
        count += 1;
      }
      return { count, ms: nowMs() - start };
    };
    await loop(request.warmUpSeconds);
    const measured = await loop(request.seconds);
    await send({ type: 'done', ...measured });
  } finally {
    await close();
  }
}

const raw = process.argv[2];
runClient(JSON.parse(raw ?? '{}') as PgClientRequest)
  .then(() => process.exit(0))
  .catch(async (error: unknown) => {
    await send({ type: 'error', reason: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  });
