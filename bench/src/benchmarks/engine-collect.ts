/**
 * The external garbage collector over a FileStorage2 database of `count` objects, half of them
 * garbage: wall time and peak RSS growth of collectGarbage (dry run, dry run through spilled runs,
 * real run with deletes), next to the previous collector's algorithm (a Map of every current oid
 * plus a Set of marked oids) and to the floor (replay the history and load every object, keeping
 * nothing: the engine's own cost), run on the same database in the same suite.
 */
import {
  collectGarbage,
  isHandlertonError,
  ROOT_OID,
  storageTransaction,
  type Oid,
  type Storage,
  type Tid,
} from '@handlerton/framework';
import type { Benchmark, BenchContext } from '../harness/context.js';
import { engineName, openStorage } from '../harness/engines.js';
import { nowMs, yieldLoop } from '../harness/io.js';

/** Objects per group: a head referencing the 999 others; one transaction per group. */
const GROUP = 1000;
/** spillThreshold of the "spill" mode: a sixteenth of the database, so every big set goes through files. */
const spillThresholdOf = (count: number): number => Math.max(1024, Math.floor(count / 16));

/** Builds the database: `count` objects in groups, every other group referenced from the root. */
async function buildGcDatabase(storage: Storage, count: number): Promise<{ live: number; garbage: number }> {
  const payload = new Uint8Array(100).fill(7);
  const heads: Oid[] = [];
  let live = 0;
  let garbage = 0;
  for (let first = 0, group = 0; first < count; first += GROUP, group++) {
    const n = Math.min(GROUP, count - first);
    const oids: Oid[] = [];
    for (let i = 0; i < n; i++) oids.push(await storage.newOid());
    const txn = storageTransaction({ description: 'gc bench data' });
    await storage.tpcBegin(txn);
    await storage.store(oids[0]!, 0n, { data: payload, refs: { oids: oids.slice(1), blobs: [] } }, txn);
    for (const oid of oids.slice(1)) await storage.store(oid, 0n, { data: payload, refs: { oids: [], blobs: [] } }, txn);
    await storage.tpcVote(txn);
    await storage.tpcFinish(txn);
    if (group % 2 === 0) {
      heads.push(oids[0]!);
      live += n;
    } else garbage += n;
    await yieldLoop();
  }
  const txn = storageTransaction({ description: 'gc bench root' });
  await storage.tpcBegin(txn);
  await storage.store(ROOT_OID, 0n, { data: payload, refs: { oids: heads, blobs: [] } }, txn);
  await storage.tpcVote(txn);
  await storage.tpcFinish(txn);
  return { live, garbage };
}

/** Dataset (and per-trial prepare): the GC database of `count` objects in FileStorage2. */
export const gcDataset: Benchmark = async (ctx) => {
  const storage = await openStorage('filestorage2', ctx.scratch);
  const start = nowMs();
  try {
    const built = await buildGcDatabase(storage, ctx.num('count'));
    return { buildMs: nowMs() - start, ...built };
  } finally {
    await storage.close();
  }
};

/** The previous collector's algorithm as a dry run: replays the history into a Map, marks into a Set. */
async function previousCollectorDryRun(storage: Storage, ctx: BenchContext): Promise<number> {
  const live = new Map<Oid, Tid>();
  for await (const txn of storage.iterator()) {
    for (const rec of txn.records) {
      if (rec.record === null) live.delete(rec.oid);
      else live.set(rec.oid, rec.tid);
    }
  }
  ctx.sampleMemory();
  const reachable = new Set<Oid>();
  const pending: Oid[] = [ROOT_OID];
  while (pending.length > 0) {
    const oid = pending.pop()!;
    if (reachable.has(oid) || !live.has(oid)) continue;
    reachable.add(oid);
    try {
      const record = await storage.load(oid);
      for (const ref of record.refs.oids) if (!reachable.has(ref)) pending.push(ref);
    } catch (error) {
      if (!isHandlertonError(error, 'HANDLERTON_POS_KEY')) throw error;
    }
  }
  ctx.sampleMemory();
  let garbage = 0;
  for (const oid of live.keys()) if (!reachable.has(oid)) garbage++;
  return garbage;
}

/** The floor any collector pays: replay the history and load every object once, keeping nothing; returns the records seen. */
async function scanFloor(storage: Storage, count: number): Promise<number> {
  let records = 0;
  for await (const txn of storage.iterator()) records += txn.records.length;
  for (let oid = 0n; oid <= BigInt(count); oid++) {
    try {
      await storage.load(oid);
    } catch (error) {
      if (!isHandlertonError(error, 'HANDLERTON_POS_KEY')) throw error;
    }
  }
  return records;
}

/**
 * Runs the collector once over the GC database (FileStorage2 from a dataset, or the memory engine
 * built in-process before the baseline, param `engine`). mode: "dry" (dry run, default spill threshold),
 * "spill" (dry run, spillThreshold count / 16), "delete" (real run on a per-trial copy), "previous"
 * (the previous collector's Map + Set algorithm, dry), "scan" (the floor: replay + load everything, no bookkeeping).
 */
export const engineCollect: Benchmark = async (ctx) => {
  const mode = ctx.str('mode');
  const engine = engineName(ctx.str('engine', 'filestorage2'));
  let storage: Storage;
  if (engine === 'memory') {
    // Built in this process before the baseline: the records' own memory is not counted.
    storage = await openStorage('memory', ctx.scratch);
    await buildGcDatabase(storage, ctx.num('count'));
  } else storage = await openStorage(engine, mode === 'delete' ? ctx.scratch : ctx.dataset(ctx.str('dataset')));
  try {
    ctx.markBaseline();
    const start = nowMs();
    let garbage: number;
    let spilled = 0;
    if (mode === 'previous') garbage = await previousCollectorDryRun(storage, ctx);
    else if (mode === 'scan') {
      await scanFloor(storage, ctx.num('count'));
      garbage = 0;
    } else {
      const result = await collectGarbage(storage, {
        keep: 0,
        dryRun: mode !== 'delete',
        ...(mode === 'spill' ? { spillThreshold: spillThresholdOf(ctx.num('count')) } : {}),
      });
      garbage = result.garbage;
      spilled = result.spilled ? 1 : 0;
      if (mode === 'delete' && result.deleted !== result.garbage) throw new Error(`deleted ${result.deleted} of ${result.garbage}`);
    }
    const ms = nowMs() - start;
    ctx.sampleMemory();
    return { ms, garbage, spilled, objectsPerSec: ctx.num('count') / (ms / 1000) };
  } finally {
    await storage.close();
  }
};
