/** Engine record workloads: small durable commits, datasets, random loads, open time, external-GC deletes. */
import type { Oid, Storage, Tid } from '@handlerton/framework';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Benchmark, BenchContext } from '../harness/context.js';
import { fdatasyncLoop } from './disk.js';
import { rawSqliteCommits } from './sqlite-raw.js';
import { engineName, isDurable, openStorage, sealOf, type EngineName } from '../harness/engines.js';
import { diskUsage, nowMs } from '../harness/io.js';
import { FloorStorage } from '../harness/floor-storage.js';
import { watchEventLoop } from '../harness/loop.js';
import { commitDeletes, commitRecords, fillObjects, newOids, type CommitApi } from '../harness/records.js';
import { keyPicker, loopMetrics, payloads, RECORDS_PER_TXN, timedLoops, type LoopResult } from '../harness/workload.js';

/** Commits run before the measured ones, on the same storage. */
const WARM_UP_SECONDS = 1;

/** Small durable commits: 100 new 200-byte records per transaction, `concurrency` committers, after a 1 s warm-up. */
export const engineCommit: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const concurrency = ctx.num('concurrency', 1);
  const seconds = ctx.num('seconds', 3);
  // Paired reference, measured in this trial just before the engine (same disk state, same noise).
  const paired: Record<string, number> = {};
  if (ctx.str('pair', '') === 'fdatasync') {
    const r = fdatasyncLoop(path.join(ctx.scratch, 'fsync-ref.bin'), ctx.num('pairCount', 300));
    paired['refOpsPerSec'] = r.opsPerSec;
    paired['refP99'] = r.p99;
    await fsp.rm(path.join(ctx.scratch, 'fsync-ref.bin'), { force: true });
  } else if (ctx.str('pair', '') === 'sqlite') {
    const dir = path.join(ctx.scratch, 'raw-ref');
    await fsp.mkdir(dir);
    const r = await rawSqliteCommits(dir, seconds);
    paired['refOpsPerSec'] = r.opsPerSec;
    paired['refP99'] = r.p99;
    await fsp.rm(dir, { recursive: true, force: true });
  }
  const data = payloads();
  const commitLoop = (api: CommitApi, forSeconds = seconds): Promise<LoopResult> =>
    timedLoops(concurrency, forSeconds, async () => {
      // Oids are allocated before the commit starts, as a connection does when objects are added.
      const oids = await newOids(api, RECORDS_PER_TXN);
      await commitRecords(api, oids.map((oid, r) => ({ oid, serial: 0n, data: data[r % data.length] as Buffer })));
    });
  if (ctx.str('floor', '') === '1') {
    const file = path.join(ctx.scratch, 'floor.bin');
    const floor = new FloorStorage(file);
    try {
      await commitLoop(floor, WARM_UP_SECONDS);
      paired['floorOpsPerSec'] = (await commitLoop(floor)).opsPerSec;
    } finally {
      floor.close();
      await fsp.rm(file, { force: true });
    }
  }
  const storage = await openStorage(engine, ctx.scratch);
  ctx.markBaseline();
  try {
    // as for loads: a warm-up (compiled code, the engine past its first segment) before measuring
    await commitLoop(storage, WARM_UP_SECONDS);
    const stop = watchEventLoop();
    const result = await commitLoop(storage);
    const loop = stop();
    return { ...loopMetrics(result), loopP99: loop.p99, loopMax: loop.max, ...paired };
  } finally {
    await storage.close();
  }
};

/** Writes a dataset's object list: oid and serial, 8 bytes each, big-endian. */
export async function writeObjects(file: string, oids: readonly Oid[], serials: readonly Tid[]): Promise<void> {
  const buf = Buffer.alloc(oids.length * 16);
  oids.forEach((oid, i) => {
    buf.writeBigUInt64BE(oid, i * 16);
    buf.writeBigUInt64BE(serials[i] ?? 0n, i * 16 + 8);
  });
  await fsp.writeFile(file, buf);
}

/** Reads a dataset's object list written by writeObjects. */
export async function readObjects(file: string): Promise<{ oids: BigUint64Array; serials: BigUint64Array }> {
  const buf = await fsp.readFile(file);
  const n = buf.length / 16;
  const oids = new BigUint64Array(n);
  const serials = new BigUint64Array(n);
  for (let i = 0; i < n; i += 1) {
    oids[i] = buf.readBigUInt64BE(i * 16);
    serials[i] = buf.readBigUInt64BE(i * 16 + 8);
  }
  return { oids, serials };
}

/** Fills `storage` with `count` 200-byte objects, sealing `segments` times along the way when it can. */
export async function buildObjects(
  storage: Storage,
  count: number,
  segments: number,
): Promise<{ oids: Oid[]; serials: Tid[]; sealed: number }> {
  const data = payloads();
  const seal = sealOf(storage);
  const perSegment = Math.ceil(count / Math.max(1, segments));
  let sealed = 0;
  let nextSeal = perSegment;
  const perTxn = 1000;
  const result = await fillObjects(storage, count, perTxn, (i) => data[i % data.length] as Buffer, async (created) => {
    if (seal !== undefined && created >= nextSeal) {
      await seal.seal();
      sealed += 1;
      nextSeal += perSegment;
    }
  });
  return { ...result, sealed };
}

/** Dataset: `count` objects of 200 bytes in `segments` sealed segments (FileStorage2), oid list saved. */
export const engineDataset: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const count = ctx.num('count');
  const segments = ctx.num('segments', 10);
  const storage = await openStorage(engine, ctx.scratch);
  const start = nowMs();
  const built = await buildObjects(storage, count, segments);
  await storage.close();
  await writeObjects(path.join(ctx.scratch, 'objects.bin'), built.oids, built.serials);
  // 1 when the engine handed out oids 1..count, i.e. exactly the keys the classic-level reference reads.
  const sameKeys = built.oids.every((oid, i) => oid === BigInt(i + 1)) ? 1 : 0;
  return { buildMs: nowMs() - start, sealed: built.sealed, sameKeys, bytes: await diskUsage(ctx.scratch) };
};

/** Opens a prepared dataset (durable engines) or builds one in this process (memory engine). */
async function datasetStorage(
  ctx: BenchContext,
  engine: EngineName,
): Promise<{ storage: Storage; oids: BigUint64Array; openMs: number }> {
  if (!isDurable(engine)) {
    const storage = await openStorage(engine, ctx.scratch);
    const built = await buildObjects(storage, ctx.num('count'), 1);
    ctx.markBaseline();
    return { storage, oids: BigUint64Array.from(built.oids), openMs: 0 };
  }
  const dir = ctx.dataset(ctx.str('dataset'));
  const { oids } = await readObjects(path.join(dir, 'objects.bin'));
  ctx.markBaseline();
  const start = nowMs();
  const storage = await openStorage(engine, dir);
  return { storage, oids, openMs: nowMs() - start };
}

/** Random `load`s over a dataset with `concurrency` readers, after a 1 s warm-up. */
export const engineLoad: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const concurrency = ctx.num('concurrency', 1);
  const seconds = ctx.num('seconds', 3);
  const { storage, oids } = await datasetStorage(ctx, engine);
  try {
    const pick = keyPicker(oids.length);
    const read = async (): Promise<void> => {
      await storage.load(oids[pick()] as bigint);
    };
    await timedLoops(concurrency, 1, read);
    return loopMetrics(await timedLoops(concurrency, seconds, read));
  } finally {
    await storage.close();
  }
};

/** Open time of a prepared dataset, then 1000 random loads; memory growth covers both. */
export const engineOpen: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const { storage, oids, openMs } = await datasetStorage(ctx, engine);
  try {
    const pick = keyPicker(oids.length, 7);
    const start = nowMs();
    for (let i = 0; i < 1000; i += 1) await storage.load(oids[pick()] as bigint);
    const firstLoadsMs = nowMs() - start;
    ctx.sampleMemory();
    return { openMs, firstLoadsMs };
  } finally {
    await storage.close();
  }
};

/** External-GC throughput: deleteObject of `count` objects in transactions of 1000. */
export const engineGc: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const count = ctx.num('count');
  const storage = await openStorage(engine, ctx.scratch);
  try {
    const built = await buildObjects(storage, count, 1);
    ctx.markBaseline();
    const start = nowMs();
    for (let first = 0; first < count; first += 1000) {
      const batch: { oid: Oid; serial: Tid }[] = [];
      for (let i = first; i < Math.min(count, first + 1000); i += 1) {
        batch.push({ oid: built.oids[i] as bigint, serial: built.serials[i] as bigint });
      }
      await commitDeletes(storage, batch);
    }
    const ms = nowMs() - start;
    return { deletesPerSec: count / (ms / 1000), ms };
  } finally {
    await storage.close();
  }
};

