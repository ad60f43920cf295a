/**
 * The benchmark plan: which jobs run (quick or full sizes), which datasets they need, and which
 * figures are reported from them, each next to its reference and target.
 */
import type { Dataset, FigureDef, Job, JobParams, MetricRef, Target } from './harness/types.js';
import { ENGINES, type EngineName } from './harness/engines.js';
import { addPostgres, type PgSizes } from './suite-postgres.js';
import { addBackup } from './suite-backup.js';
import { addHttp } from './suite-http.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** The SQLite engine's documented WAL limits (sqlite-blobs README "The event loop"; RECORDS_WAL_LIMIT and WAL_FILE_GUARD there). */
const SQLITE_RECORDS_WAL_LIMIT_MIB = 16;
const SQLITE_BLOB_WAL_LIMIT_MIB = 320;

/** Sizes and repetition counts of one plan. */
export interface PlanSizes {
  readonly trials: number;
  readonly bigTrials: number;
  readonly diskBytes: number;
  readonly fsyncCount: number;
  readonly seconds: number;
  readonly idleSeconds: number;
  readonly dbSizes: readonly number[];
  readonly segments: number;
  readonly blobSizes: readonly number[];
  readonly partialBytes: number;
  readonly packBytes: Readonly<Record<EngineName, number>>;
  readonly gcCount: number;
  /** Objects in the collector's database (half garbage). */
  readonly collectCount: number;
  /** The PostgreSQL rows (suite-postgres.ts). */
  readonly pg: PgSizes;
  /** Database size of the incremental-backup rows (suite-backup.ts; HANDLERTON_BENCH_BACKUP_MIB overrides). */
  readonly backupBytes: number;
}

/** Full run: the sizes the issues name. */
export const FULL: PlanSizes = {
  trials: 3,
  bigTrials: 3,
  diskBytes: GiB,
  fsyncCount: 1000,
  seconds: 3,
  idleSeconds: 5,
  dbSizes: [10_000, 100_000, 1_000_000],
  segments: 10,
  blobSizes: [100 * MiB, GiB],
  partialBytes: GiB,
  packBytes: { filestorage2: GiB, sqlite: 256 * MiB, memory: 256 * MiB },
  gcCount: 100_000,
  collectCount: 1_000_000,
  pg: { trials: 2, seconds: 3, loadCount: 1_000_000, loadTrials: 1, blobBytes: 256 * MiB, blobTrials: 2 },
  backupBytes: GiB,
};

/** Quick run: a smoke check in a few minutes. */
export const QUICK: PlanSizes = {
  trials: 2,
  bigTrials: 1,
  diskBytes: 256 * MiB,
  fsyncCount: 300,
  seconds: 2,
  idleSeconds: 2,
  dbSizes: [10_000, 100_000],
  segments: 10,
  blobSizes: [64 * MiB],
  partialBytes: 64 * MiB,
  packBytes: { filestorage2: 64 * MiB, sqlite: 32 * MiB, memory: 32 * MiB },
  gcCount: 10_000,
  collectCount: 50_000,
  pg: { trials: 1, seconds: 2, loadCount: 100_000, loadTrials: 1, blobBytes: 64 * MiB, blobTrials: 1 },
  backupBytes: 128 * MiB,
};

/** Tiny run: checks that every benchmark works, in about a minute (development only). */
export const TINY: PlanSizes = {
  trials: 1,
  bigTrials: 1,
  diskBytes: 16 * MiB,
  fsyncCount: 50,
  seconds: 1,
  idleSeconds: 1,
  dbSizes: [2_000, 20_000],
  segments: 10,
  blobSizes: [8 * MiB],
  partialBytes: 8 * MiB,
  packBytes: { filestorage2: 8 * MiB, sqlite: 4 * MiB, memory: 4 * MiB },
  gcCount: 2_000,
  collectCount: 20_000,
  pg: { trials: 1, seconds: 1, loadCount: 20_000, loadTrials: 1, blobBytes: 16 * MiB, blobTrials: 1 },
  backupBytes: 16 * MiB,
};

/** Everything a run needs. */
export interface Plan {
  readonly sizes: PlanSizes;
  readonly datasets: readonly Dataset[];
  readonly jobs: readonly Job[];
  readonly figures: readonly FigureDef[];
}

/** The unique key of a job: its benchmark id and sorted parameters. */
export function keyOf(bench: string, params: JobParams): string {
  const parts = Object.keys(params)
    .sort()
    .map((k) => `${k}=${String(params[k])}`);
  return parts.length === 0 ? bench : `${bench}(${parts.join(',')})`;
}

/** Human size: 64 MiB, 1 GiB, 10k, 1M. */
export function sizeLabel(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  return `${Math.round(bytes / MiB)} MiB`;
}

/** Human count: 10k, 100k, 1M. */
export function countLabel(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}

const ENGINE_LABEL: Readonly<Record<EngineName, string>> = {
  filestorage2: 'FileStorage2',
  sqlite: 'SQLite',
  memory: 'memory',
};

/** Builds the plan for the given sizes. */
export function buildPlan(sizes: PlanSizes): Plan {
  const datasets: Dataset[] = [];
  const jobs: Job[] = [];
  const figures: FigureDef[] = [];
  const jobKeys = new Set<string>();

  const job = (bench: string, params: JobParams, options: Partial<Omit<Job, 'key' | 'bench' | 'params'>> = {}): string => {
    const key = keyOf(bench, params);
    if (!jobKeys.has(key)) {
      jobKeys.add(key);
      jobs.push({ key, bench, params, trials: options.trials ?? sizes.trials, ...options });
    }
    return key;
  };
  const dataset = (name: string, bench: string, params: JobParams, timeoutSec = 900): string => {
    if (!datasets.some((d) => d.name === name)) datasets.push({ name, bench, params, timeoutSec });
    return name;
  };
  const m = (jobKey: string, metric: string, name: string): MetricRef => ({ job: jobKey, metric, name });
  const fig = (def: FigureDef): void => {
    figures.push(def);
  };
  const atLeast = (min: number): Target => ({ kind: 'ratioAtLeast', min });
  const atMost = (max: number): Target => ({ kind: 'atMost', max });

  // ---- references: disk, stream copy, idle loop
  const seqNone = job('disk.seqwrite', { size: sizes.diskBytes, sync: 'none' });
  const seqEnd = job('disk.seqwrite', { size: sizes.diskBytes, sync: 'end' });
  const fsyncSync = job('disk.fdatasync', { count: sizes.fsyncCount, api: 'sync' });
  const fsyncAsync = job('disk.fdatasync', { count: sizes.fsyncCount, api: 'async' });
  const seqRead = job('disk.seqread', { size: sizes.diskBytes });
  const idle = job('idle.loop', { seconds: sizes.idleSeconds });
  const disk = sizeLabel(sizes.diskBytes);
  const fsyncRate = m(fsyncSync, 'opsPerSec', 'raw fdatasync rate (4 KiB appends, sync calls)');
  fig({ id: 'ref.disk.seqwrite', group: 'references', name: `Raw sequential write ${disk}, no sync`, unit: 'MiB/s', value: m(seqNone, 'mibps', 'seq write') });
  fig({ id: 'ref.disk.seqwrite-fdatasync', group: 'references', name: `Raw sequential write ${disk} + fdatasync`, unit: 'MiB/s', value: m(seqEnd, 'mibps', 'seq write + fdatasync'), reference: m(seqNone, 'mibps', 'seq write, no sync') });
  fig({ id: 'ref.disk.fdatasync', group: 'references', name: 'Raw fdatasync rate, 4 KiB appends (writeSync + fdatasyncSync)', unit: 'commits/s', value: fsyncRate });
  fig({ id: 'ref.disk.fdatasync-p99', group: 'references', name: 'Raw fdatasync latency p99, 4 KiB appends', unit: 'ms', value: m(fsyncSync, 'p99', 'fdatasync p99') });
  fig({ id: 'ref.disk.fdatasync-async', group: 'references', name: 'fdatasync rate through the thread pool (FileHandle.write + datasync)', unit: 'commits/s', value: m(fsyncAsync, 'opsPerSec', 'async fdatasync rate'), reference: fsyncRate });
  fig({ id: 'ref.disk.seqread', group: 'references', name: `Raw sequential read ${disk} (page cache)`, unit: 'MiB/s', value: m(seqRead, 'mibps', 'seq read') });
  fig({ id: 'ref.idle.loop-p99', group: 'references', name: 'Idle event-loop delay p99 (resolution 10 ms, included)', unit: 'ms', value: m(idle, 'loopP99', 'idle p99') });
  const copies = new Map<number, string>();
  const copySizes = [...new Set([...sizes.blobSizes, sizes.packBytes.filestorage2])].sort((a, b) => a - b);
  for (const size of copySizes) {
    const copy = job('fs.streamcopy', { size }, { trials: size >= GiB ? sizes.bigTrials : sizes.trials });
    copies.set(size, copy);
    fig({ id: `ref.streamcopy.${sizeLabel(size).replace(' ', '')}`, group: 'references', name: `Raw Node fs stream copy ${sizeLabel(size)} (1 MiB chunks)`, unit: 'MiB/s', value: m(copy, 'mibps', 'stream copy'), reference: m(seqRead, 'mibps', 'raw sequential read') });
  }

  // ---- references: record stores doing the same workloads
  const lvl1 = job('level.commit', { concurrency: 1, seconds: sizes.seconds });
  const lvl32 = job('level.commit', { concurrency: 32, seconds: sizes.seconds });
  const sqlRaw = job('sqlite.commit', { seconds: sizes.seconds });
  const lmdb1 = job('lmdb.commit', { concurrency: 1, seconds: sizes.seconds });
  const lmdb32 = job('lmdb.commit', { concurrency: 32, seconds: sizes.seconds });
  fig({ id: 'ref.level.commit', group: 'references', name: 'classic-level durable commits (100 × 200 B, sync)', unit: 'txn/s', value: m(lvl1, 'opsPerSec', 'classic-level commits'), reference: fsyncRate });
  fig({ id: 'ref.level.commit32', group: 'references', name: 'classic-level durable commits, 32 concurrent', unit: 'txn/s', value: m(lvl32, 'opsPerSec', 'classic-level 32 committers'), reference: m(lvl1, 'opsPerSec', 'classic-level single committer') });
  fig({ id: 'ref.sqlite.commit', group: 'references', name: 'Raw better-sqlite3 prepared statements, 100 × 200 B per txn (WAL, synchronous=FULL)', unit: 'txn/s', value: m(sqlRaw, 'opsPerSec', 'raw better-sqlite3 commits'), reference: fsyncRate });
  fig({ id: 'ref.lmdb.commit', group: 'references', name: 'lmdb durable commits (100 × 200 B)', unit: 'txn/s', value: m(lmdb1, 'opsPerSec', 'lmdb commits'), reference: fsyncRate });
  fig({ id: 'ref.lmdb.commit32', group: 'references', name: 'lmdb durable commits, 32 concurrent', unit: 'txn/s', value: m(lmdb32, 'opsPerSec', 'lmdb 32 committers'), reference: m(lmdb1, 'opsPerSec', 'lmdb single committer') });

  // ---- small durable commits per engine
  for (const engine of ENGINES) {
    const label = ENGINE_LABEL[engine];
    // The single-committer trial first measures its reference in the same process (paired), so that
    // the ratio compares two measurements taken seconds apart on this noisy machine.
    const pair = engine === 'sqlite' ? 'sqlite' : 'fdatasync';
    const kind = engine === 'memory' ? 'in-memory (not durable)' : 'durable';
    const floor: Record<string, string> = engine === 'filestorage2' ? { floor: '1' } : {};
    const single = job('engine.commit', { engine, concurrency: 1, seconds: sizes.seconds, pair, pairCount: sizes.fsyncCount, ...floor });
    const group = job('engine.commit', { engine, concurrency: 32, seconds: sizes.seconds });
    const singleRef =
      engine === 'sqlite'
        ? m(single, 'refOpsPerSec', 'raw better-sqlite3 prepared statements, same txn shape, same trial')
        : m(single, 'refOpsPerSec', 'raw fdatasync rate (4 KiB appends), same trial');
    fig({
      id: `commit.single.${engine}`, group: 'commit', engine, name: `${label}: ${kind} commits, 100 × 200 B per txn, 1 committer`, unit: 'txn/s',
      value: m(single, 'opsPerSec', `${label} commits`), reference: singleRef,
      ...(engine === 'filestorage2' ? { target: atLeast(0.8), targetText: '≥ 80% of the raw fdatasync rate', source: 'issue 4' } : {}),
      ...(engine === 'sqlite' ? { target: atLeast(0.7), targetText: '≥ 70% of raw better-sqlite3', source: 'issue 5' } : {}),
    });
    fig({
      id: `commit.group32.${engine}`, group: 'commit', engine, name: `${label}: ${kind} commits, 32 concurrent committers`, unit: 'txn/s',
      value: m(group, 'opsPerSec', `${label} 32 committers`), reference: m(single, 'opsPerSec', `${label} single committer`),
      ...(engine === 'filestorage2' ? { target: atLeast(8), targetText: '≥ 8× the single-committer rate (group commit)', source: 'issue 4' } : {}),
    });
    if (engine === 'filestorage2') {
      fig({
        id: 'commit.floor', group: 'commit', name: 'Commit floor: the same 100 awaited stores per txn into no engine, then write + fdatasync of the same bytes (zero-filled file)', unit: 'txn/s',
        value: m(single, 'floorOpsPerSec', 'commit floor'), reference: singleRef,
      });
      fig({
        id: `commit.single-vs-floor.${engine}`, group: 'commit', engine, name: `${label}: durable commits, 1 committer, against the commit floor`, unit: 'txn/s',
        value: m(single, 'opsPerSec', `${label} commits`), reference: m(single, 'floorOpsPerSec', 'commit floor, same trial'),
      });
    }
    if (engine !== 'memory') {
      fig({
        id: `commit.loop-p99.${engine}`, group: 'commit', engine, name: `${label}: event-loop delay p99 during single-committer commits`, unit: 'ms',
        value: m(single, 'loopP99', `${label} loop delay p99 during commits`), reference: m(idle, 'loopP99', 'idle p99'),
      });
    }
    fig({
      id: `commit.p99.${engine}`, group: 'commit', engine, name: `${label}: commit latency p99, 1 committer`, unit: 'ms',
      value: m(single, 'p99', `${label} commit p99`), reference: m(single, 'refP99', engine === 'sqlite' ? 'raw better-sqlite3 commit p99, same trial' : 'raw fdatasync p99, same trial'),
    });
  }

  // ---- Database API (issue 13): 100 writes to existing objects per transaction, and a read-mostly mix
  const dbSingle = new Map<EngineName, string>();
  for (const engine of ENGINES) {
    const label = ENGINE_LABEL[engine];
    const pair: Record<string, string> = engine === 'filestorage2' ? { pair: 'append' } : engine === 'sqlite' ? { pair: 'sqlite' } : {};
    const single = job('engine.dbcommit', { engine, concurrency: 1, seconds: sizes.seconds, contract: true, ...pair });
    const group = job('engine.dbcommit', { engine, concurrency: 32, seconds: sizes.seconds });
    dbSingle.set(engine, single);
    const contract = m(single, 'contractOpsPerSec', `${label} Storage contract, the same writes, same trial`);
    fig({
      id: `db.commit.single.${engine}`, group: 'db', engine, name: `${label}: db.transaction of 100 × 200 B writes to existing objects, 1 committer`, unit: 'txn/s',
      value: m(single, 'opsPerSec', `${label} Database API commits`), reference: contract,
      target: atLeast(0.8), targetText: '≥ 80% of the same engine at the Storage contract', source: 'issue 13',
    });
    const peer =
      engine === 'filestorage2'
        ? { ref: m(single, 'refOpsPerSec', 'raw loop appending the same 20 KB + fdatasync, same trial'), min: 0.7, text: '≥ 70% of a raw append + fdatasync loop' }
        : engine === 'sqlite'
          ? { ref: m(single, 'refOpsPerSec', 'raw better-sqlite3 prepared statements, same txn shape, same trial'), min: 0.7, text: '≥ 70% of raw better-sqlite3' }
          : { ref: m(lmdb1, 'opsPerSec', 'lmdb durable transactions (100 × 200 B)'), min: undefined, text: '' };
    fig({
      id: `db.commit.peer.${engine}`, group: 'db', engine, name: `${label}: Database API commits, 1 committer, against a raw peer`, unit: 'txn/s',
      value: m(single, 'opsPerSec', `${label} Database API commits`), reference: peer.ref,
      ...(peer.min !== undefined ? { target: atLeast(peer.min), targetText: peer.text, source: 'issue 13' } : {}),
    });
    fig({
      id: `db.commit.group32.${engine}`, group: 'db', engine, name: `${label}: Database API commits, 32 concurrent transactions`, unit: 'txn/s',
      value: m(group, 'opsPerSec', `${label} Database API, 32 concurrent`), reference: m(single, 'opsPerSec', `${label} Database API, 1 committer`),
      ...(engine === 'filestorage2' ? { target: atLeast(2.5), targetText: '≥ 2.5× its single-committer figure', source: 'issue 13' } : {}),
    });
    fig({
      id: `db.commit.group32-peer.${engine}`, group: 'db', engine, name: `${label}: Database API, 32 concurrent, against lmdb with 32 committers (records/s)`, unit: 'txn/s',
      value: m(group, 'opsPerSec', `${label} Database API, 32 concurrent`), reference: m(lmdb32, 'opsPerSec', 'lmdb, 32 committers'),
      ...(engine === 'filestorage2' ? { target: atLeast(1), targetText: 'at least lmdb with 32 committers', source: 'issue 13' } : {}),
    });
    if (engine !== 'memory') {
      fig({
        id: `db.commit.loop-p99.${engine}`, group: 'db', engine, name: `${label}: event-loop delay p99 during Database API commits, 1 committer`, unit: 'ms',
        value: m(single, 'loopP99', `${label} loop delay p99 during Database API commits`), reference: m(idle, 'loopP99', 'idle p99'),
      });
    }
    if (engine === 'sqlite') {
      fig({
        id: 'db.commit.wal-records.sqlite', group: 'db', engine, name: 'SQLite: peak records-file WAL through the Database-API commit benchmark (warm-up and Storage-contract run included)', unit: 'MiB',
        value: m(single, 'recordsWalPeakMiB', 'SQLite records WAL peak'), target: atMost(SQLITE_RECORDS_WAL_LIMIT_MIB),
        targetText: `≤ ${SQLITE_RECORDS_WAL_LIMIT_MIB} MiB (the records WAL limit, sqlite-blobs README)`, source: 'issue 13',
      });
    }
    fig({ id: `db.commit.p99.${engine}`, group: 'db', engine, name: `${label}: Database API commit latency p99, 32 concurrent`, unit: 'ms', value: m(group, 'p99', `${label} p99, 32 concurrent`), reference: m(group, 'p50', 'p50 of the same trials') });
    fig({ id: `db.commit.hit.${engine}`, group: 'db', engine, name: `${label}: record cache hit rate during the 1-committer commits`, unit: '%', value: m(single, 'cacheHitPct', `${label} hit rate`) });
    const mix = job('engine.dbmix', { engine, concurrency: 1, seconds: sizes.seconds, count: 10_000 });
    const mix32 = job('engine.dbmix', { engine, concurrency: 32, seconds: sizes.seconds, count: 10_000 });
    const memReads = m(keyOf('engine.load', { engine: 'memory', dataset: `memory-${countLabel(largestDb(sizes))}`, count: largestDb(sizes), concurrency: 1, seconds: sizes.seconds }), 'opsPerSec', 'memory engine loads at the Storage contract, 1 reader');
    fig({
      id: `db.mix.${engine}`, group: 'db', engine, name: `${label}: read-mostly mix (90 tx.read + 10 tx.write per txn, 10k objects, warm cache), 1 at a time`, unit: 'ops/s',
      value: m(mix, 'opsPerSecRecords', `${label} mix operations`), reference: memReads,
      target: atLeast(1), targetText: '≥ memory-engine loads at the Storage contract', source: 'issue 13',
    });
    fig({ id: `db.mix32.${engine}`, group: 'db', engine, name: `${label}: read-mostly mix, 32 concurrent transactions`, unit: 'ops/s', value: m(mix32, 'opsPerSecRecords', `${label} mix, 32 concurrent`), reference: m(mix, 'opsPerSecRecords', `${label} mix, 1 at a time`) });
    fig({ id: `db.mix.hit.${engine}`, group: 'db', engine, name: `${label}: record cache hit rate in the read-mostly mix`, unit: '%', value: m(mix, 'cacheHitPct', `${label} mix hit rate`) });
    fig({ id: `db.mix.cache.${engine}`, group: 'db', engine, name: `${label}: record cache size after the read-mostly mix (10k objects)`, unit: 'MiB', value: m(mix, 'cacheMiB', `${label} cache MiB`), reference: m(mix, 'rssGrowthMiB', 'RSS growth of the same trials') });
  }
  const memDb = dbSingle.get('memory');
  const fsDb = dbSingle.get('filestorage2');
  if (memDb !== undefined && fsDb !== undefined) {
    fig({
      id: 'db.memory-vs-fs2.api', group: 'db', engine: 'memory', name: 'memory engine against FileStorage2 (durable), Database API, 1 committer', unit: 'txn/s',
      value: m(memDb, 'opsPerSec', 'memory Database API commits'), reference: m(fsDb, 'opsPerSec', 'FileStorage2 Database API commits'),
      target: atLeast(3), targetText: '≥ 3× FileStorage2 durable', source: 'issue 13',
    });
    fig({
      id: 'db.memory-vs-fs2.contract', group: 'db', engine: 'memory', name: 'memory engine against FileStorage2 (durable), Storage contract, the same writes', unit: 'txn/s',
      value: m(memDb, 'contractOpsPerSec', 'memory Storage contract'), reference: m(fsDb, 'contractOpsPerSec', 'FileStorage2 Storage contract'),
      target: atLeast(3), targetText: '≥ 3× FileStorage2 durable', source: 'issue 13',
    });
  }

  // ---- datasets and open time / memory vs size
  const largest = sizes.dbSizes[sizes.dbSizes.length - 1] ?? 10_000;
  for (const count of sizes.dbSizes) {
    const n = countLabel(count);
    const timeout = 120 + count / 1000;
    const flat = dataset(`flatlog-${n}`, 'flatlog.dataset', { count }, timeout);
    const lvlDs = dataset(`level-${n}`, 'level.dataset', { count }, timeout);
    const base = job('indexmap.open', { dataset: flat, count }, { needs: [flat] });
    const lvlOpen = job('level.open', { dataset: lvlDs, count }, { needs: [lvlDs] });
    const baseTime = m(base, 'openMs', `index-in-memory baseline (Map of every oid), ${n}`);
    const baseRss = m(base, 'rssGrowthMiB', `index-in-memory baseline RSS growth, ${n}`);
    fig({ id: `open.time.baseline.${n}`, group: 'open', name: `Index-in-memory baseline: open ${n} objects (rebuild Map of every oid)`, unit: 'ms', value: baseTime, sweep: { series: 'index in memory', x: count, chart: 'open-time' } });
    fig({ id: `open.rss.baseline.${n}`, group: 'open', name: `Index-in-memory baseline: RSS growth at open, ${n} objects`, unit: 'MiB', value: baseRss, sweep: { series: 'index in memory', x: count, chart: 'open-rss' } });
    fig({ id: `open.time.level.${n}`, group: 'open', name: `classic-level: open ${n} keys + 1000 gets`, unit: 'ms', value: m(lvlOpen, 'openMs', 'classic-level open'), reference: baseTime, sweep: { series: 'classic-level', x: count, chart: 'open-time' } });
    fig({ id: `open.rss.level.${n}`, group: 'open', name: `classic-level: RSS growth at open, ${n} keys`, unit: 'MiB', value: m(lvlOpen, 'rssGrowthMiB', 'classic-level RSS'), reference: baseRss, sweep: { series: 'classic-level', x: count, chart: 'open-rss' } });
    for (const engine of ENGINES) {
      if (engine === 'memory') continue; // not durable: nothing to open
      const label = ENGINE_LABEL[engine];
      const ds = dataset(`${engine}-${n}`, 'engine.dataset', { engine, count, segments: sizes.segments }, timeout * 3);
      const open = job('engine.open', { engine, dataset: ds, count }, { needs: [ds] });
      const big = count === 1_000_000 && engine === 'filestorage2';
      fig({
        id: `open.time.${engine}.${n}`, group: 'open', engine, name: `${label}: open ${n} objects${engine === 'filestorage2' ? ` (${sizes.segments} sealed segments)` : ''}`, unit: 'ms',
        value: m(open, 'openMs', `${label} open`), reference: baseTime, sweep: { series: label, x: count, chart: 'open-time' },
        ...(big ? { target: atMost(100), targetText: 'open < 100 ms', source: 'issue 4' } : {}),
      });
      fig({
        id: `open.rss.${engine}.${n}`, group: 'open', engine, name: `${label}: RSS growth at open + 1000 loads, ${n} objects`, unit: 'MiB',
        value: m(open, 'rssGrowthMiB', `${label} RSS growth`), reference: baseRss, sweep: { series: label, x: count, chart: 'open-rss' },
        ...(big ? { target: atMost(50), targetText: 'RSS growth < 50 MiB', source: 'issue 4' } : {}),
      });
    }
  }

  // ---- random loads over the largest database
  const nL = countLabel(largest);
  const lvlBig = `level-${nL}`;
  const sqlRawDs = dataset(`sqlite-raw-${nL}`, 'sqlite.dataset', { count: largest }, 600);
  const lmdbDs = dataset(`lmdb-${nL}`, 'lmdb.dataset', { count: largest }, 600);
  for (const concurrency of [1, 16]) {
    const lvlLoad = job('level.load', { dataset: lvlBig, count: largest, concurrency, seconds: sizes.seconds }, { needs: [lvlBig] });
    const lvlRef = m(lvlLoad, 'opsPerSec', `classic-level random gets, same keys, ${concurrency} reader${concurrency > 1 ? 's' : ''}`);
    fig({ id: `ref.level.load.c${concurrency}`, group: 'references', name: `classic-level: random gets over ${nL} keys, ${concurrency} concurrent`, unit: 'ops/s', value: lvlRef });
    for (const engine of ENGINES) {
      const label = ENGINE_LABEL[engine];
      const ds = `${engine}-${nL}`;
      const load = job('engine.load', { engine, dataset: ds, count: largest, concurrency, seconds: sizes.seconds }, engine === 'memory' ? { timeoutSec: 600, trials: sizes.bigTrials } : { needs: [ds] });
      fig({
        id: `load.c${concurrency}.${engine}`, group: 'load', engine, name: `${label}: random load over ${nL} objects${engine === 'filestorage2' ? ` in ${sizes.segments} sealed segments` : ''}, ${concurrency} concurrent`, unit: 'ops/s',
        value: m(load, 'opsPerSec', `${label} loads`), reference: lvlRef,
        ...(engine === 'filestorage2' ? { target: atLeast(1), targetText: 'at least as fast as classic-level', source: 'issue 4' } : {}),
      });
    }
  }
  const lmdbLoad = job('lmdb.load', { dataset: lmdbDs, count: largest, seconds: sizes.seconds }, { needs: [lmdbDs] });
  const sqlLoad = job('sqlite.load', { dataset: sqlRawDs, count: largest, seconds: sizes.seconds }, { needs: [sqlRawDs] });
  const lvlC1 = m(keyOf('level.load', { dataset: lvlBig, count: largest, concurrency: 1, seconds: sizes.seconds }), 'opsPerSec', 'classic-level, 1 reader');
  fig({ id: 'ref.lmdb.load', group: 'references', name: `lmdb: random gets over ${nL} keys (sync, memory-mapped)`, unit: 'ops/s', value: m(lmdbLoad, 'opsPerSec', 'lmdb gets'), reference: lvlC1 });
  fig({ id: 'ref.sqlite.load', group: 'references', name: `Raw better-sqlite3: random selects over ${nL} rows`, unit: 'ops/s', value: m(sqlLoad, 'opsPerSec', 'raw sqlite selects'), reference: lvlC1 });

  // ---- blobs
  for (const size of sizes.blobSizes) {
    const s = sizeLabel(size);
    const sk = s.replace(' ', '');
    const copy = copies.get(size) ?? '';
    const copyRef = m(copy, 'mibps', `raw fs stream copy ${s}`);
    for (const engine of ENGINES) {
      const label = ENGINE_LABEL[engine];
      const blob = job('engine.blob', { engine, size, api: 'db', pair: true }, { trials: size >= GiB ? sizes.bigTrials : sizes.trials, timeoutSec: 900 });
      const pairedCopy = m(blob, 'copyMiBps', `raw fs stream copy of the same ${s} file, same trial`);
      const min = engine === 'filestorage2' ? 0.7 : engine === 'sqlite' ? 0.5 : undefined;
      const src = engine === 'filestorage2' ? 'issue 4' : 'issue 5';
      const tput = min !== undefined ? { target: atLeast(min), targetText: `≥ ${min * 100}% of the raw stream copy`, source: src } : {};
      const bounded = engine !== 'memory';
      fig({ id: `blob.write.${engine}.${sk}`, group: 'blob', engine, name: `${label}: blob write ${s} (file → blob handle stream, committed)`, unit: 'MiB/s', value: m(blob, 'writeMiBps', `${label} blob write`), reference: pairedCopy, ...tput });
      fig({ id: `blob.read.${engine}.${sk}`, group: 'blob', engine, name: `${label}: blob read ${s} (blob handle stream → file)`, unit: 'MiB/s', value: m(blob, 'readMiBps', `${label} blob read`), reference: pairedCopy, ...tput });
      fig({
        id: `blob.rss.${engine}.${sk}`, group: 'blob', engine, name: `${label}: peak RSS growth, blob write + read ${s}`, unit: 'MiB',
        value: m(blob, 'rssGrowthMiB', `${label} RSS growth`), reference: m(copy, 'rssGrowthMiB', `raw stream copy RSS growth ${s}`),
        ...(bounded ? { target: atMost(64), targetText: '< 64 MiB, independent of blob size', source: src } : {}),
      });
      fig({
        id: `blob.loop-p99.${engine}.${sk}`, group: 'blob', engine, name: `${label}: event-loop delay p99 during blob write + read ${s}`, unit: 'ms',
        value: m(blob, 'loopP99', `${label} loop p99`), reference: m(blob, 'idleP99', 'idle p99 of the same process just before'),
        ...(bounded ? { target: { kind: 'refPlusAtMost', margin: 10 } as Target, targetText: '≤ idle p99 + 10 ms', source: src } : {}),
      });
      if (engine === 'sqlite') {
        fig({
          id: `blob.write-rawsqlite.${engine}.${sk}`, group: 'blob', engine, name: `${label}: blob write ${s} against raw better-sqlite3 inserting the same 256 KiB chunks`, unit: 'MiB/s',
          value: m(blob, 'writeMiBps', `${label} blob write`), reference: m(blob, 'rawSqliteMiBps', 'raw better-sqlite3: the same chunks, one unsynced transaction each, one synced commit, same trial'),
          ...(size >= GiB ? { target: atLeast(0.7), targetText: '≥ 70% of raw better-sqlite3', source: 'issue 13' } : {}),
        });
        fig({
          id: `blob.wal.${engine}.${sk}`, group: 'blob', engine, name: `${label}: peak blob-file WAL during blob write + read ${s}`, unit: 'MiB',
          value: m(blob, 'blobWalPeakMiB', `${label} blob WAL peak`), target: atMost(SQLITE_BLOB_WAL_LIMIT_MIB),
          targetText: `≤ ${SQLITE_BLOB_WAL_LIMIT_MIB} MiB (the blob WAL limit, sqlite-blobs README)`, source: 'issue 13',
        });
      }
      fig({ id: `blob.loop-max.${engine}.${sk}`, group: 'blob', engine, name: `${label}: worst single event-loop stall during blob write + read ${s}`, unit: 'ms', value: m(blob, 'loopMax', `${label} loop max`), reference: m(blob, 'idleMax', 'idle max of the same process just before') });
      if (size === sizes.blobSizes[0]) {
        // The same transfer through the raw handlerton contract: what the framework's handles cost.
        const raw = job('engine.blob', { engine, size, api: 'raw' });
        fig({ id: `blob.write-raw.${engine}.${sk}`, group: 'blob', engine, name: `${label}: blob write ${s}, raw handlerton (draft.write, prepare, commit)`, unit: 'MiB/s', value: m(raw, 'writeMiBps', `${label} raw blob write`), reference: copyRef });
        fig({ id: `blob.read-raw.${engine}.${sk}`, group: 'blob', engine, name: `${label}: blob read ${s}, raw handlerton (RevisionReader.read)`, unit: 'MiB/s', value: m(raw, 'readMiBps', `${label} raw blob read`), reference: copyRef });
      }
    }
  }

  // ---- PostgreSQL: blob reads with the local blob cache (bench/src/benchmarks/pg-blob-cache.ts)
  const cacheSize = sizes.blobSizes[0];
  if (cacheSize !== undefined) {
    const cs = sizeLabel(cacheSize);
    const cache = job('pg.blobcache', { size: cacheSize }, { timeoutSec: 900 });
    const cachedCopy = m(cache, 'copyMiBps', `raw fs stream copy of the cached ${cs} file, same trial`);
    fig({
      id: `blob.read-cached.postgres.${cs.replace(' ', '')}`, group: 'blob', engine: 'postgres', name: `PostgreSQL: blob read ${cs}, local blob cache warm (blob handle stream → file)`, unit: 'MiB/s',
      value: m(cache, 'warmMiBps', 'PostgreSQL warm-cache blob read'), reference: cachedCopy, target: atLeast(0.7), targetText: '≥ 70% of a raw stream copy of the cached file', source: 'issue 14',
    });
    fig({ id: `blob.read-cold.postgres.${cs.replace(' ', '')}`, group: 'blob', engine: 'postgres', name: `PostgreSQL: blob read ${cs} from the server, no cache`, unit: 'MiB/s', value: m(cache, 'coldMiBps', 'PostgreSQL blob read, no cache'), reference: cachedCopy });
    fig({ id: `blob.read-fill.postgres.${cs.replace(' ', '')}`, group: 'blob', engine: 'postgres', name: `PostgreSQL: first blob read ${cs} with the cache on (server → cache file → stream)`, unit: 'MiB/s', value: m(cache, 'fillMiBps', 'PostgreSQL blob read filling the cache'), reference: m(cache, 'coldMiBps', 'PostgreSQL blob read, no cache, same trial') });
  }

  // ---- blob memory versus blob size: the same RSS growth for the smallest and the largest blob
  const smallest = sizes.blobSizes[0];
  const biggest = sizes.blobSizes[sizes.blobSizes.length - 1];
  if (smallest !== undefined && biggest !== undefined && biggest > smallest) {
    for (const engine of ENGINES) {
      if (engine === 'memory') continue;
      const label = ENGINE_LABEL[engine];
      const big = keyOf('engine.blob', { engine, size: biggest, api: 'db', pair: true });
      const small = keyOf('engine.blob', { engine, size: smallest, api: 'db', pair: true });
      fig({
        id: `blob.rss-scaling.${engine}`, group: 'blob', engine, name: `${label}: blob RSS growth at ${sizeLabel(biggest)} versus ${sizeLabel(smallest)} (1× = independent of blob size)`, unit: 'MiB',
        value: m(big, 'rssGrowthMiB', `${label} RSS growth, ${sizeLabel(biggest)}`), reference: m(small, 'rssGrowthMiB', `${label} RSS growth, ${sizeLabel(smallest)}`),
      });
    }
  }

  // ---- partial update
  const p = sizeLabel(sizes.partialBytes);
  for (const engine of ENGINES) {
    const label = ENGINE_LABEL[engine];
    const partial = job('engine.partial', { engine, size: sizes.partialBytes }, { trials: sizes.bigTrials, timeoutSec: 900 });
    fig({
      id: `partial.commit.${engine}`, group: 'partial', engine, name: `${label}: r+ write of 4 KiB into a ${p} blob, commit latency (median of 5)`, unit: 'ms',
      value: m(partial, 'commitMs', `${label} partial update`), reference: m(fsyncSync, 'p99', 'raw fdatasync p99'),
      ...(engine === 'sqlite' ? { target: atMost(50), targetText: 'commits in < 50 ms', source: 'issue 5' } : {}),
    });
    if (engine !== 'memory') {
      fig({
        id: `partial.growth.${engine}`, group: 'partial', engine, name: `${label}: storage growth per 4 KiB r+ update of a ${p} blob`, unit: 'KiB',
        value: m(partial, 'growthKiB', `${label} growth`),
        ...(engine === 'sqlite' ? { target: atMost(512), targetText: '< two chunks (2 × 256 KiB)', source: 'issue 5' } : {}),
      });
    }
  }

  // ---- pack
  for (const engine of ENGINES) {
    const label = ENGINE_LABEL[engine];
    const bytes = sizes.packBytes[engine];
    const prepare = engine === 'memory' ? {} : { prepare: { bench: 'engine.packdata', params: { engine, bytes } } };
    const pack = job('engine.pack', { engine, bytes }, { trials: sizes.bigTrials, timeoutSec: 1200, ...prepare });
    const copy = copies.get(sizes.packBytes.filestorage2) ?? '';
    const fs2 = engine === 'filestorage2';
    fig({
      id: `pack.throughput.${engine}`, group: 'pack', engine, name: `${label}: pack ${sizeLabel(bytes)} of records, half garbage`, unit: 'MiB/s',
      value: m(pack, 'packMiBps', `${label} pack`), reference: m(copy, 'mibps', `raw fs stream copy ${sizeLabel(sizes.packBytes.filestorage2)}`),
      ...(fs2 ? { target: atLeast(0.5), targetText: '≥ 50% of raw sequential copy', source: 'issue 4' } : {}),
    });
    fig({
      id: `pack.rss.${engine}`, group: 'pack', engine, name: `${label}: RSS growth during pack`, unit: 'MiB', value: m(pack, 'rssGrowthMiB', `${label} pack RSS`),
      ...(fs2 ? { target: atMost(128), targetText: '< 128 MiB', source: 'issue 4' } : {}),
    });
    fig({
      id: `pack.commit-p99.${engine}`, group: 'pack', engine, name: `${label}: commit latency p99 during pack`, unit: 'ms',
      value: m(pack, 'commitP99Pack', `${label} commit p99 during pack`), reference: m(pack, 'commitP99Idle', 'commit p99 without pack, same process'),
    });
  }

  // ---- external GC
  const lvlDel = job('level.delete', { count: sizes.gcCount });
  for (const engine of ENGINES) {
    const label = ENGINE_LABEL[engine];
    const gc = job('engine.gc', { engine, count: sizes.gcCount }, { timeoutSec: 600 });
    fig({
      id: `gc.rate.${engine}`, group: 'gc', engine, name: `${label}: external-GC deleteObject, ${countLabel(sizes.gcCount)} objects in txns of 1000`, unit: 'deletes/s',
      value: m(gc, 'deletesPerSec', `${label} deletes`), reference: m(lvlDel, 'deletesPerSec', 'classic-level durable batch deletes'),
    });
  }

  // ---- the collector itself: collectGarbage over a FileStorage2 database, half garbage
  {
    const count = sizes.collectCount;
    const n = countLabel(count);
    const ds = dataset(`gcdata-${n}`, 'gc.dataset', { count }, 1800);
    const collect = (mode: string): string => job('engine.collect', { dataset: ds, count, mode }, { needs: [ds], trials: sizes.bigTrials, timeoutSec: 1200 });
    const scan = collect('scan');
    const previous = collect('previous');
    const dry = collect('dry');
    const spill = collect('spill');
    const real = job('engine.collect', { count, mode: 'delete' }, { trials: sizes.bigTrials, timeoutSec: 1800, prepare: { bench: 'gc.dataset', params: { count } } });
    const prevTime = m(previous, 'ms', `previous collector (Map of every oid + Set), dry, ${n}`);
    const prevRss = m(previous, 'rssGrowthMiB', `previous collector (Map of every oid + Set) RSS growth, ${n}`);
    fig({ id: 'gc.collect.time.scan', group: 'gc', engine: 'filestorage2', name: `Floor: replay the history of ${n} objects and load each once, keeping nothing (FileStorage2)`, unit: 'ms', value: m(scan, 'ms', 'replay + load floor') });
    fig({ id: 'gc.collect.rss.scan', group: 'gc', engine: 'filestorage2', name: `Floor: peak RSS growth of replay + load, ${n} objects (the engine's own churn)`, unit: 'MiB', value: m(scan, 'rssGrowthMiB', 'replay + load floor RSS growth') });
    fig({ id: 'gc.collect.time.previous', group: 'gc', name: `Previous collector's algorithm (Map + Set): dry run over ${n} objects, half garbage`, unit: 'ms', value: prevTime });
    fig({ id: 'gc.collect.rss.previous', group: 'gc', name: `Previous collector's algorithm (Map + Set): peak RSS growth, ${n} objects`, unit: 'MiB', value: prevRss, reference: m(scan, 'rssGrowthMiB', 'replay + load floor RSS growth') });
    fig({ id: 'gc.collect.time.dry', group: 'gc', engine: 'filestorage2', name: `collectGarbage dry run over ${n} objects, half garbage (FileStorage2)`, unit: 'ms', value: m(dry, 'ms', 'collectGarbage dry run'), reference: prevTime });
    fig({ id: 'gc.collect.rss.dry', group: 'gc', engine: 'filestorage2', name: `collectGarbage dry run: peak RSS growth, ${n} objects`, unit: 'MiB', value: m(dry, 'rssGrowthMiB', 'collectGarbage RSS growth'), reference: prevRss });
    fig({ id: 'gc.collect.time.spill', group: 'gc', engine: 'filestorage2', name: `collectGarbage dry run through spilled runs (spillThreshold = objects / 16), ${n} objects`, unit: 'ms', value: m(spill, 'ms', 'collectGarbage, spilled'), reference: prevTime });
    fig({ id: 'gc.collect.rss.spill', group: 'gc', engine: 'filestorage2', name: `collectGarbage through spilled runs: peak RSS growth, ${n} objects`, unit: 'MiB', value: m(spill, 'rssGrowthMiB', 'collectGarbage RSS growth, spilled'), reference: prevRss });
    // The same on the memory engine (built in the trial's process before the baseline): its iterator and
    // loads allocate little, so the RSS growth shows the collector's own bookkeeping.
    const onMemory = (mode: string): string => job('engine.collect', { engine: 'memory', count, mode }, { trials: sizes.bigTrials, timeoutSec: 1800 });
    const memScan = m(onMemory('scan'), 'rssGrowthMiB', 'memory engine: replay + load floor RSS growth');
    const memPrev = m(onMemory('previous'), 'rssGrowthMiB', 'memory engine: previous collector (Map + Set) RSS growth');
    fig({ id: 'gc.collect.rss.memory.previous', group: 'gc', engine: 'memory', name: `Previous collector's algorithm (Map + Set) on the memory engine: peak RSS growth, ${n} objects`, unit: 'MiB', value: memPrev, reference: memScan });
    fig({ id: 'gc.collect.rss.memory.dry', group: 'gc', engine: 'memory', name: `collectGarbage dry run on the memory engine: peak RSS growth, ${n} objects`, unit: 'MiB', value: m(onMemory('dry'), 'rssGrowthMiB', 'collectGarbage RSS growth'), reference: memPrev });
    fig({ id: 'gc.collect.rss.memory.spill', group: 'gc', engine: 'memory', name: `collectGarbage through spilled runs on the memory engine: peak RSS growth, ${n} objects`, unit: 'MiB', value: m(onMemory('spill'), 'rssGrowthMiB', 'collectGarbage RSS growth, spilled'), reference: memPrev });
    fig({ id: 'gc.collect.time.delete', group: 'gc', engine: 'filestorage2', name: `collectGarbage deleting ${countLabel(count / 2)} of ${n} objects (FileStorage2, syncMode always)`, unit: 'ms', value: m(real, 'ms', 'collectGarbage with deletes'), reference: m(dry, 'ms', 'the same collection as a dry run') });
    fig({ id: 'gc.collect.rss.delete', group: 'gc', engine: 'filestorage2', name: `collectGarbage deleting ${countLabel(count / 2)} objects: peak RSS growth`, unit: 'MiB', value: m(real, 'rssGrowthMiB', 'collectGarbage RSS growth, with deletes'), reference: prevRss });
  }

  // ---- PostgreSQL (issue 14)
  addPostgres(sizes.pg, { job, fig, m });

  // ---- incremental backup (issue 15)
  addBackup(sizes.backupBytes, { job, fig, m, streamCopy: (bytes) => (copies.has(bytes) ? m(copies.get(bytes)!, 'mibps', `raw fs stream copy ${sizeLabel(bytes)}`) : undefined) });

  addHttp(Math.max(...sizes.blobSizes), Math.min(20, sizes.seconds * 7), { job, fig, m });

  return { sizes, datasets, jobs, figures };
}


/** The largest database size of a plan (the random-load dataset). */
function largestDb(sizes: PlanSizes): number {
  return sizes.dbSizes[sizes.dbSizes.length - 1] ?? 10_000;
}
