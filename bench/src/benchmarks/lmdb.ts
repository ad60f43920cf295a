/** lmdb references (where the native module loads): durable small commits and random gets. */
import * as path from 'node:path';
import type { Benchmark } from '../harness/context.js';
import { UnavailableError } from '../harness/context.js';
import { nowMs, yieldLoop } from '../harness/io.js';
import { keyPicker, loopMetrics, oidKey, payloads, RECORDS_PER_TXN, timedLoops } from '../harness/workload.js';

type LmdbModule = typeof import('lmdb');
type LmdbDb = ReturnType<LmdbModule['open']>;

async function openLmdb(dir: string): Promise<LmdbDb> {
  let mod: LmdbModule;
  try {
    mod = await import('lmdb');
  } catch (error) {
    throw new UnavailableError(`lmdb does not load here: ${error instanceof Error ? error.message : String(error)}`);
  }
  return mod.open({ path: dir, encoding: 'binary', keyEncoding: 'binary', compression: false });
}

/** Durable transactions of 100 × 200 B puts, `concurrency` committers (lmdb batches concurrent ones itself). */
export const lmdbCommit: Benchmark = async (ctx) => {
  const concurrency = ctx.num('concurrency', 1);
  const seconds = ctx.num('seconds', 3);
  const db = await openLmdb(path.join(ctx.scratch, 'lmdb'));
  const data = payloads();
  let next = 1n;
  ctx.markBaseline();
  const result = await timedLoops(concurrency, seconds, async () => {
    await db.transaction(() => {
      for (let r = 0; r < RECORDS_PER_TXN; r += 1) {
        void db.put(oidKey(next), data[r % data.length] as Buffer);
        next += 1n;
      }
    });
  });
  await db.close();
  return loopMetrics(result);
};

/** Dataset: `count` keys (oids 1..count) with 200-byte values. */
export const lmdbDataset: Benchmark = async (ctx) => {
  const count = ctx.num('count');
  const db = await openLmdb(path.join(ctx.scratch, 'lmdb'));
  const data = payloads();
  const start = nowMs();
  for (let first = 1; first <= count; first += 10_000) {
    const last = Math.min(count, first + 9_999);
    await db.transaction(() => {
      for (let oid = first; oid <= last; oid += 1) void db.put(oidKey(BigInt(oid)), data[oid % data.length] as Buffer);
    });
  }
  await db.close();
  return { buildMs: nowMs() - start };
};

/** Random gets over a dataset (synchronous memory-mapped reads; yields every 64). */
export const lmdbLoad: Benchmark = async (ctx) => {
  const count = ctx.num('count');
  const seconds = ctx.num('seconds', 3);
  const db = await openLmdb(path.join(ctx.dataset(ctx.str('dataset')), 'lmdb'));
  const pick = keyPicker(count);
  ctx.markBaseline();
  let i = 0;
  const read = async (): Promise<void> => {
    if (db.getBinary(oidKey(BigInt(pick() + 1))) === undefined) throw new Error('lmdb: key missing');
    i += 1;
    if (i % 64 === 0) await yieldLoop();
  };
  await timedLoops(1, 1, read);
  const result = await timedLoops(1, seconds, read);
  await db.close();
  return loopMetrics(result);
};
