/** Pack throughput with commits running during the pack (engines with capability `pack`). */
import type { Storage } from '@handlerton/framework';
import { randomBytes } from 'node:crypto';
import type { Benchmark, BenchContext } from '../harness/context.js';
import { UnavailableError } from '../harness/context.js';
import { engineName, isDurable, openStorage, sealOf } from '../harness/engines.js';
import { diskUsage, MiB, nowMs, yieldLoop } from '../harness/io.js';
import { commitRecords, newOids } from '../harness/records.js';
import { Latencies } from '../harness/stats.js';
import { payloads, RECORDS_PER_TXN } from '../harness/workload.js';

const RECORD = 8 * 1024;
const PER_TXN = 128;

/**
 * Writes ~`bytes` of records with half of them garbage: every object is written twice, so a
 * pack at the last tid drops the first revisions. Seals about ten times (FileStorage2).
 */
async function buildPackData(storage: Storage, bytes: number): Promise<void> {
  const objects = Math.max(PER_TXN, Math.floor(bytes / 2 / RECORD));
  const pool = Array.from({ length: 16 }, () => randomBytes(RECORD));
  const seal = sealOf(storage);
  const sealEvery = Math.max(1, Math.floor(bytes / 10 / (PER_TXN * RECORD)));
  let txns = 0;
  const oids = await newOids(storage, objects);
  const serials = new Array<bigint>(objects).fill(0n);
  for (let round = 0; round < 2; round += 1) {
    for (let first = 0; first < objects; first += PER_TXN) {
      const last = Math.min(objects, first + PER_TXN);
      const records = [];
      for (let i = first; i < last; i += 1) {
        records.push({ oid: oids[i] as bigint, serial: serials[i] as bigint, data: pool[(i + round) % pool.length] as Buffer });
      }
      const tid = await commitRecords(storage, records);
      for (let i = first; i < last; i += 1) serials[i] = tid;
      txns += 1;
      if (seal !== undefined && txns % sealEvery === 0) await seal.seal();
      await yieldLoop();
    }
  }
  if (seal !== undefined) await seal.seal();
}

/** Prepares pack input in the trial's scratch directory (durable engines; runs in its own process). */
export const enginePackData: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const storage = await openStorage(engine, ctx.scratch);
  const start = nowMs();
  try {
    if (!storage.capabilities.pack) throw new UnavailableError(`${engine} does not claim capability pack`);
    await buildPackData(storage, ctx.num('bytes'));
  } finally {
    await storage.close();
  }
  return { buildMs: nowMs() - start, bytes: await diskUsage(ctx.scratch) };
};

async function packStorage(ctx: BenchContext): Promise<Storage> {
  const engine = engineName(ctx.str('engine'));
  const storage = await openStorage(engine, ctx.scratch);
  if (!storage.capabilities.pack) {
    await storage.close();
    throw new UnavailableError(`${engine} does not claim capability pack`);
  }
  if (!isDurable(engine)) await buildPackData(storage, ctx.num('bytes'));
  return storage;
}

/** Runs one commit every 20 ms (start to start) while `more()` holds; returns their latencies. */
async function pacedCommits(commitOnce: () => Promise<void>, more: () => boolean): Promise<Latencies> {
  const lat = new Latencies();
  while (more()) {
    const s = nowMs();
    await commitOnce();
    const took = nowMs() - s;
    lat.add(took);
    if (took < 20) await new Promise((resolve) => setTimeout(resolve, 20 - took));
  }
  return lat;
}

/** Packs at the last tid while a committer commits every 20 ms; reports throughput and commit p99. */
export const enginePack: Benchmark = async (ctx) => {
  const storage = await packStorage(ctx);
  const data = payloads();
  const commitOnce = async (): Promise<void> => {
    const oids = await newOids(storage, RECORDS_PER_TXN);
    await commitRecords(storage, oids.map((oid, r) => ({ oid, serial: 0n, data: data[r % data.length] as Buffer })));
  };
  const idleUntil = nowMs() + 2000;
  try {
    const idle = await pacedCommits(commitOnce, () => nowMs() < idleUntil);
    const inputBytes = isDurable(engineName(ctx.str('engine'))) ? await diskUsage(ctx.scratch) : ctx.num('bytes');
    const packTid = storage.lastTransaction();
    ctx.markBaseline();
    let packing = true;
    const start = nowMs();
    const committer = pacedCommits(commitOnce, () => packing);
    let result;
    try {
      result = await storage.pack(packTid);
    } finally {
      packing = false;
    }
    const lat = await committer;
    const packMs = nowMs() - start;
    ctx.sampleMemory();
    const outputBytes = isDurable(engineName(ctx.str('engine'))) ? await diskUsage(ctx.scratch) : 0;
    return {
      packMs,
      packMiBps: inputBytes / MiB / (packMs / 1000),
      inputMiB: inputBytes / MiB,
      outputMiB: outputBytes / MiB,
      removedRevisions: result.removedRevisions,
      commitsDuringPack: lat.count,
      commitP99Pack: lat.count > 0 ? lat.quantile(0.99) : Number.NaN,
      commitMaxPack: lat.count > 0 ? lat.max() : Number.NaN,
      commitP99Idle: idle.quantile(0.99),
    };
  } finally {
    await storage.close();
  }
};

