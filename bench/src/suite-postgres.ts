/**
 * The PostgreSQL part of the plan (issue 14): small commits, the scale-out curve, random loads and
 * large blobs, each against raw `pg` on the same throwaway server in the same trial. Every trial
 * starts and stops its own durable server (fsync and synchronous_commit on, like the other engines'
 * durable settings); with no server binaries and no HANDLERTON_PG_URL the rows say why they did not run.
 */
import type { FigureDef, JobParams, MetricRef, Target } from './harness/types.js';

const MiB = 1024 * 1024;

/** Sizes of the PostgreSQL rows of one plan. */
export interface PgSizes {
  readonly trials: number;
  readonly seconds: number;
  /** Objects in the random-load database (the issue names 1M). */
  readonly loadCount: number;
  readonly loadTrials: number;
  /** Blob size (the issue names 1 GiB; HANDLERTON_BENCH_PG_BLOB_MIB overrides). */
  readonly blobBytes: number;
  readonly blobTrials: number;
}

/** What the plan builder lends this part. */
export interface PlanTools {
  job(bench: string, params: JobParams, options?: { trials?: number; timeoutSec?: number }): string;
  fig(def: FigureDef): void;
  m(job: string, metric: string, name: string): MetricRef;
}

/** The client counts of the scale-out curve (pg-scale.ts runs the same). */
const CLIENTS = [1, 2, 4, 8] as const;

/** A positive integer from the environment, or the fallback. */
function fromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/** The sizes with the environment's overrides (HANDLERTON_BENCH_PG_BLOB_MIB, HANDLERTON_BENCH_PG_OBJECTS). */
export function pgSizes(base: PgSizes): PgSizes {
  return {
    ...base,
    blobBytes: fromEnv('HANDLERTON_BENCH_PG_BLOB_MIB', base.blobBytes / MiB) * MiB,
    loadCount: fromEnv('HANDLERTON_BENCH_PG_OBJECTS', base.loadCount),
  };
}

function sizeText(bytes: number): string {
  return bytes >= 1024 * MiB && bytes % (1024 * MiB) === 0 ? `${bytes / (1024 * MiB)} GiB` : `${Math.round(bytes / MiB)} MiB`;
}

function countText(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

/** Adds the PostgreSQL jobs and figures. */
export function addPostgres(base: PgSizes, { job, fig, m }: PlanTools): void {
  const sizes = pgSizes(base);
  const atLeast = (min: number): Target => ({ kind: 'ratioAtLeast', min });
  const group = 'postgres';
  const engine = 'postgres';
  const src = 'issue 14';

  // ---- small commits, one client
  const commit = job('pg.commit', { seconds: sizes.seconds, rounds: 3 }, { trials: sizes.trials, timeoutSec: 180 });
  const raw = m(commit, 'rawOpsPerSec', 'raw pg: BEGIN, one 100-row unnest insert, COMMIT, same server, same trial');
  fig({ id: 'pg.commit.raw', group, engine, name: 'PostgreSQL reference: raw pg, 100 × 200 B inserts per txn (BEGIN, unnest insert, COMMIT), durable server', unit: 'txn/s', value: raw });
  fig({
    id: 'pg.commit.contract', group, engine, name: 'PostgreSQL: Storage contract commits, 100 × 200 B writes to existing objects (storeMany), 1 client', unit: 'txn/s',
    value: m(commit, 'storeManyOpsPerSec', 'PostgreSQL Storage contract (storeMany)'), reference: raw,
    target: atLeast(0.7), targetText: '≥ 70% of raw pg in the same transaction shape', source: src,
  });
  fig({
    id: 'pg.commit.contract-store', group, engine, name: 'PostgreSQL: Storage contract commits, the same writes as 100 × store', unit: 'txn/s',
    value: m(commit, 'storeOpsPerSec', 'PostgreSQL Storage contract (100 × store)'), reference: raw,
  });
  fig({
    id: 'pg.commit.db', group, engine, name: 'PostgreSQL: db.transaction of 100 × 200 B writes to existing objects, 1 client', unit: 'txn/s',
    value: m(commit, 'dbOpsPerSec', 'PostgreSQL Database API commits'), reference: raw,
    target: atLeast(0.7), targetText: '≥ 70% of raw pg in the same transaction shape', source: src,
  });
  fig({ id: 'pg.commit.db-p99', group, engine, name: 'PostgreSQL: Database API commit latency p99, 1 client', unit: 'ms', value: m(commit, 'dbP99', 'PostgreSQL DB API p99'), reference: m(commit, 'rawP99', 'raw pg p99, same trial') });

  // ---- scale-out: 1, 2, 4, 8 client processes
  const scale = job('pg.scale', { seconds: sizes.seconds, mode: 'db' }, { trials: sizes.trials, timeoutSec: 600 });
  const scaleRaw = job('pg.scale', { seconds: sizes.seconds, mode: 'raw' }, { trials: sizes.trials, timeoutSec: 600 });
  const scaleRbf = job('pg.scale', { seconds: sizes.seconds, mode: 'db-rbf' }, { trials: sizes.trials, timeoutSec: 600 });
  const one = m(scale, 'c1', 'PostgreSQL Database API, 1 client process');
  for (const n of CLIENTS) {
    fig({
      id: `pg.scale.c${n}`, group, engine, name: `PostgreSQL: total Database API commits (100 × 200 B), ${n} client process${n > 1 ? 'es' : ''}`, unit: 'txn/s',
      value: m(scale, `c${n}`, `PostgreSQL, ${n} clients`), reference: one, sweep: { series: 'handlerton Database API', x: n, chart: 'pg-scale' },
      ...(n === 4 ? { target: atLeast(2), targetText: '4 clients ≥ 2× one client', source: src } : {}),
    });
    fig({
      id: `pg.scale.rbf.c${n}`, group, engine,
      name: `PostgreSQL with releaseBeforeFlush (commit lock dropped before the WAL flush): total Database API commits, ${n} client process${n > 1 ? 'es' : ''}`,
      unit: 'txn/s', value: m(scaleRbf, `c${n}`, `PostgreSQL releaseBeforeFlush, ${n} client${n > 1 ? 's' : ''}`), reference: m(scale, `c${n}`, `PostgreSQL default, ${n} client${n > 1 ? 's' : ''}`),
      sweep: { series: 'handlerton, releaseBeforeFlush', x: n, chart: 'pg-scale' },
    });
    fig({
      id: `pg.scale.raw.c${n}`, group, engine, name: `PostgreSQL reference: raw pg commits (100-row inserts), ${n} client process${n > 1 ? 'es' : ''}`, unit: 'txn/s',
      value: m(scaleRaw, `c${n}`, `raw pg, ${n} clients`), reference: m(scaleRaw, 'c1', 'raw pg, 1 client process'), sweep: { series: 'raw pg', x: n, chart: 'pg-scale' },
    });
  }
  fig({
    id: 'pg.scale.c4-vs-raw', group, engine, name: 'PostgreSQL: Database API commits with 4 client processes against raw pg with 4', unit: 'txn/s',
    value: m(scale, 'c4', 'PostgreSQL, 4 clients'), reference: m(scaleRaw, 'c4', 'raw pg, 4 clients'),
  });

  // ---- random loads
  const n = countText(sizes.loadCount);
  const load = job('pg.load', { count: sizes.loadCount, seconds: sizes.seconds, rounds: 3 }, { trials: sizes.loadTrials, timeoutSec: 300 + sizes.loadCount / 1000 });
  fig({
    id: 'pg.load.c1', group, engine, name: `PostgreSQL: random Storage.load over ${n} objects, 1 at a time`, unit: 'ops/s',
    value: m(load, 'engine1OpsPerSec', 'PostgreSQL loads'), reference: m(load, 'raw1OpsPerSec', 'raw pg prepared SELECT of the newest revision, same rows, same trial'),
    target: atLeast(0.7), targetText: '≥ 70% of raw pg prepared SELECTs', source: src,
  });
  fig({
    id: 'pg.load.c8', group, engine, name: `PostgreSQL: random Storage.load over ${n} objects, 8 concurrent (pool of 8)`, unit: 'ops/s',
    value: m(load, 'engine8OpsPerSec', 'PostgreSQL loads, 8 concurrent'), reference: m(load, 'raw8OpsPerSec', 'raw pg prepared SELECTs, pool of 8, same trial'),
  });
  fig({ id: 'pg.load.fill', group, engine, name: `PostgreSQL: bulk fill of ${n} objects through Storage.restore (10k per txn)`, unit: 's', value: m(load, 'fillSec', 'fill time') });

  // ---- large blobs
  const s = sizeText(sizes.blobBytes);
  const blob = job('pg.blob', { size: sizes.blobBytes }, { trials: sizes.blobTrials, timeoutSec: 120 + (sizes.blobBytes / MiB) * 2 });
  const best = (dir: string): MetricRef => m(blob, `bestRaw${dir}MiBps`, `best raw PostgreSQL path (1 MiB bytea rows or large object), same trial`);
  fig({
    id: 'pg.blob.write', group, engine, name: `PostgreSQL: blob write ${s} (file → blob handle stream, committed)`, unit: 'MiB/s',
    value: m(blob, 'writeMiBps', 'PostgreSQL blob write'), reference: best('Write'), target: atLeast(0.5), targetText: '≥ 50% of the best raw PostgreSQL path', source: src,
  });
  fig({
    id: 'pg.blob.read', group, engine, name: `PostgreSQL: blob read ${s} (blob handle stream → file)`, unit: 'MiB/s',
    value: m(blob, 'readMiBps', 'PostgreSQL blob read'), reference: best('Read'), target: atLeast(0.5), targetText: '≥ 50% of the best raw PostgreSQL path', source: src,
  });
  fig({ id: 'pg.blob.raw-rows-write', group, engine, name: `PostgreSQL reference: raw 1 MiB bytea rows, write ${s} (one txn)`, unit: 'MiB/s', value: m(blob, 'rawRowsWriteMiBps', 'raw bytea rows write'), reference: m(blob, 'rawLoWriteMiBps', 'raw large object write') });
  fig({ id: 'pg.blob.raw-rows-read', group, engine, name: `PostgreSQL reference: raw 1 MiB bytea rows, read ${s}`, unit: 'MiB/s', value: m(blob, 'rawRowsReadMiBps', 'raw bytea rows read'), reference: m(blob, 'rawLoReadMiBps', 'raw large object read') });
  fig({
    id: 'pg.blob.rss', group, engine, name: `PostgreSQL: peak RSS growth, blob write + read ${s}`, unit: 'MiB',
    value: m(blob, 'rssGrowthMiB', 'PostgreSQL RSS growth'), target: { kind: 'atMost', max: 64 }, targetText: '< 64 MiB, independent of blob size', source: src,
  });
  fig({
    id: 'pg.blob.loop-p99', group, engine, name: `PostgreSQL: event-loop delay p99 during blob write + read ${s}`, unit: 'ms',
    value: m(blob, 'loopP99', 'PostgreSQL loop p99'), reference: m(blob, 'idleP99', 'idle p99 of the same process just before'),
    target: { kind: 'refPlusAtMost', margin: 10 }, targetText: '≤ idle p99 + 10 ms', source: src,
  });
  fig({
    id: 'pg.blob.loop-p99-raw', group, engine, name: `PostgreSQL: event-loop delay p99 during blob write + read ${s}, against raw pg moving the same bytes`, unit: 'ms',
    value: m(blob, 'loopP99', 'PostgreSQL loop p99'), reference: m(blob, 'rawLoopP99', 'loop p99 during the raw bytea-row and large-object transfers, same process'),
  });
}
