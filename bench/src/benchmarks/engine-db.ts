/**
 * Database-API workloads (what applications feel): transactions of 100 × 200 B writes to existing
 * objects, and a read-mostly mix (90 reads, 10 writes per 100 operations) over a warm record cache.
 * Each single-committer trial also measures, in the same process and on the same engine, the
 * Storage-contract figure for the same writes and (FileStorage2, SQLite) a raw peer doing the same work.
 */
import { promises as fsp, closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { createDatabase, NO_REFS, storageTransaction, type Oid, type Storage, type Tid } from '@handlerton/framework';
import type { Benchmark } from '../harness/context.js';
import { engineLocation, engineName, openBlobs, openStorage, type EngineName } from '../harness/engines.js';
import { nowMs } from '../harness/io.js';
import { watchEventLoop } from '../harness/loop.js';
import { keyPicker, loopMetrics, payloads, RECORD_SIZE, RECORDS_PER_TXN, timedLoops } from '../harness/workload.js';
import { watchWalPeaks } from '../harness/wal-watch.js';
import { rawSqliteCommits } from './sqlite-raw.js';

/** Commits run before the measured ones. */
const WARM_UP_SECONDS = 1;
/** Reads per 100 operations of the read-mostly mix (the rest are writes). */
const MIX_READS = 90;

type Db = Awaited<ReturnType<typeof createDatabase>>;

/** Opens the engine's storage and blobs in `dir` and the Database over them (record cache at its default unless `cacheBytes`). */
async function openDb(engine: EngineName, dir: string, cacheBytes?: number): Promise<Db> {
  const storage = await openStorage(engine, dir);
  const blobs = await openBlobs(engine, dir);
  return createDatabase({ storage, blobs, ...(cacheBytes === undefined ? {} : { recordCacheBytes: cacheBytes }) });
}

/** Creates `count` objects of 200 B through the Database, 1000 per transaction. */
async function createObjects(db: Db, count: number): Promise<Oid[]> {
  const data = payloads();
  const oids: Oid[] = [];
  while (oids.length < count) {
    const batch = Math.min(1000, count - oids.length);
    oids.push(
      ...(await db.transaction(async (tx) => {
        const made: Oid[] = [];
        for (let i = 0; i < batch; i += 1) made.push(await tx.create(data[i % data.length] as Buffer));
        return made;
      })),
    );
  }
  return oids;
}

/** The record cache's hit and miss counters (zeros when it is off). */
function cacheCounters(db: Db): { hits: number; misses: number; bytes: number } {
  const stats = db.recordCacheStats();
  return { hits: stats?.hits ?? 0, misses: stats?.misses ?? 0, bytes: stats?.bytes ?? 0 };
}

/** Hit rate in percent and cache size in MiB between two counter readings. */
function cacheMetrics(before: ReturnType<typeof cacheCounters>, after: ReturnType<typeof cacheCounters>): Record<string, number> {
  const hits = after.hits - before.hits;
  const lookups = hits + after.misses - before.misses;
  return { cacheHitPct: lookups === 0 ? 0 : (100 * hits) / lookups, cacheMiB: after.bytes / (1024 * 1024) };
}

/** The same writes through the Storage contract on the database's engine: `oids` with their serials, for `seconds`. */
async function contractWrites(storage: Storage, oids: readonly Oid[], seconds: number): Promise<number> {
  const data = payloads();
  const serials = new Map<Oid, Tid>();
  for (const oid of oids) serials.set(oid, (await storage.load(oid)).tid);
  const loop = (forSeconds: number) =>
    timedLoops(1, forSeconds, async () => {
      const txn = storageTransaction();
      await storage.tpcBegin(txn);
      try {
        for (const [r, oid] of oids.entries()) await storage.store(oid, serials.get(oid)!, { data: data[r % data.length] as Buffer, refs: NO_REFS }, txn);
        await storage.tpcVote(txn);
      } catch (error) {
        await storage.tpcAbort(txn);
        throw error;
      }
      const tid = await storage.tpcFinish(txn);
      for (const oid of oids) serials.set(oid, tid);
    });
  await loop(WARM_UP_SECONDS);
  return (await loop(seconds)).opsPerSec;
}

/** A raw loop appending the transaction's bytes (100 × 200 B) to a file with fdatasync after each, for `seconds`. */
function appendFdatasyncLoop(file: string, seconds: number): number {
  const block = Buffer.concat(payloads(RECORDS_PER_TXN, RECORD_SIZE));
  const fd = openSync(file, 'a');
  const start = nowMs();
  const deadline = start + seconds * 1000;
  let count = 0;
  try {
    while (nowMs() < deadline) {
      writeSync(fd, block);
      fdatasyncSync(fd);
      count += 1;
    }
  } finally {
    closeSync(fd);
  }
  return count / ((nowMs() - start) / 1000);
}

/**
 * `db.transaction(tx => 100 × tx.write(oid, 200 B))` to existing objects, `concurrency` transactions at
 * once (each on its own 100 objects, so they never conflict). With `contract`, the same trial then
 * measures the Storage contract on the same engine, and the raw peer (`pair`: "append" or "sqlite").
 */
export const engineDbCommit: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const concurrency = ctx.num('concurrency', 1);
  const seconds = ctx.num('seconds', 3);
  const extra: Record<string, number> = {};
  const pair = ctx.str('pair', '');
  if (pair === 'append') {
    const file = path.join(ctx.scratch, 'append-ref.bin');
    extra['refOpsPerSec'] = appendFdatasyncLoop(file, seconds);
    await fsp.rm(file, { force: true });
  } else if (pair === 'sqlite') {
    const dir = path.join(ctx.scratch, 'raw-ref');
    await fsp.mkdir(dir);
    extra['refOpsPerSec'] = (await rawSqliteCommits(dir, seconds)).opsPerSec;
    await fsp.rm(dir, { recursive: true, force: true });
  }
  const dir = path.join(ctx.scratch, 'db');
  await fsp.mkdir(dir);
  const db = await openDb(engine, dir);
  try {
    const all = await createObjects(db, concurrency * RECORDS_PER_TXN);
    const sets = Array.from({ length: concurrency }, (_, w) => all.slice(w * RECORDS_PER_TXN, (w + 1) * RECORDS_PER_TXN));
    const data = payloads();
    const commitLoop = (forSeconds: number) =>
      timedLoops(concurrency, forSeconds, async (worker, i) => {
        await db.transaction(async (tx) => {
          for (const [r, oid] of sets[worker]!.entries()) await tx.write(oid, data[(r + i) % data.length] as Buffer);
        });
      });
    ctx.markBaseline();
    // SQLite: the peak size of both WAL files through the whole benchmark (warm-up and Storage-contract run included).
    const location = engineLocation(engine, dir);
    const stopWal = engine === 'sqlite' && location !== undefined ? watchWalPeaks([`${location}-wal`, `${location}-blobs-wal`]) : undefined;
    await commitLoop(WARM_UP_SECONDS);
    const before = cacheCounters(db);
    const stop = watchEventLoop();
    const result = await commitLoop(seconds);
    const loop = stop();
    ctx.sampleMemory();
    const metrics = { ...loopMetrics(result), recordsPerSec: result.opsPerSec * RECORDS_PER_TXN, loopP99: loop.p99, ...cacheMetrics(before, cacheCounters(db)) };
    if (ctx.bool('contract')) extra['contractOpsPerSec'] = await contractWrites(db.storage.engine, sets[0]!, seconds);
    const walPeaks = stopWal?.();
    if (walPeaks !== undefined) {
      extra['recordsWalPeakMiB'] = walPeaks[0]! / (1024 * 1024);
      extra['blobWalPeakMiB'] = walPeaks[1]! / (1024 * 1024);
    }
    return { ...metrics, ...extra };
  } finally {
    await db.close();
  }
};

/**
 * The read-mostly mix: transactions of 100 operations on random objects of a set of `count` (90
 * `tx.read`, 10 `tx.write`), `concurrency` at once on disjoint parts of the set (no conflicts), after
 * every object was read once (a warm record cache). Reports operations per second and the hit rate.
 */
export const engineDbMix: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const concurrency = ctx.num('concurrency', 1);
  const seconds = ctx.num('seconds', 3);
  const count = ctx.num('count', 10_000);
  const dir = path.join(ctx.scratch, 'db');
  await fsp.mkdir(dir);
  const db = await openDb(engine, dir);
  try {
    const oids = await createObjects(db, count);
    const part = Math.floor(count / concurrency);
    // Warm the cache: every object read once.
    for (let start = 0; start < oids.length; start += 1000) {
      await db.transaction(async (tx) => {
        for (const oid of oids.slice(start, start + 1000)) await tx.read(oid);
      });
    }
    const data = payloads();
    const pickers = Array.from({ length: concurrency }, (_, w) => keyPicker(part, 42 + w));
    const mixLoop = (forSeconds: number) =>
      timedLoops(concurrency, forSeconds, async (worker, i) => {
        const pick = pickers[worker]!;
        await db.transaction(async (tx) => {
          for (let op = 0; op < RECORDS_PER_TXN; op += 1) {
            const oid = oids[worker * part + pick()]!;
            if (op < MIX_READS) await tx.read(oid);
            else await tx.write(oid, data[(op + i) % data.length] as Buffer);
          }
        });
      });
    ctx.markBaseline();
    await mixLoop(WARM_UP_SECONDS);
    const before = cacheCounters(db);
    const result = await mixLoop(seconds);
    ctx.sampleMemory();
    return { ...loopMetrics(result), opsPerSecRecords: result.opsPerSec * RECORDS_PER_TXN, ...cacheMetrics(before, cacheCounters(db)) };
  } finally {
    await db.close();
  }
};
