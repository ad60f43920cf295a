/** classic-level (LevelDB) references: durable small commits, random gets, open, deletes. */
import { ClassicLevel } from 'classic-level';
import * as path from 'node:path';
import type { Benchmark, BenchContext } from '../harness/context.js';
import { nowMs, yieldLoop } from '../harness/io.js';
import { keyPicker, loopMetrics, oidKey, payloads, RECORDS_PER_TXN, timedLoops } from '../harness/workload.js';

type Level = ClassicLevel<Buffer, Buffer>;

function openLevel(location: string): Level {
  return new ClassicLevel<Buffer, Buffer>(location, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
}

async function fill(db: Level, count: number, batchSize: number, sync: boolean): Promise<void> {
  const data = payloads();
  for (let first = 1; first <= count; first += batchSize) {
    const batch = db.batch();
    const last = Math.min(count, first + batchSize - 1);
    for (let oid = first; oid <= last; oid += 1) batch.put(oidKey(BigInt(oid)), data[oid % data.length] as Buffer);
    await batch.write({ sync });
    await yieldLoop();
  }
}

/** Dataset: `count` keys (oids 1..count, 8-byte big-endian) with 200-byte values, compacted. */
export const levelDataset: Benchmark = async (ctx) => {
  const count = ctx.num('count');
  const db = openLevel(path.join(ctx.scratch, 'level'));
  await db.open();
  const start = nowMs();
  await fill(db, count, 10_000, false);
  await db.compactRange(oidKey(0n), oidKey(BigInt(count + 1)));
  await db.close();
  return { buildMs: nowMs() - start };
};

/** Durable commits of 100 × 200 B puts per batch (sync: true), `concurrency` committers. */
export const levelCommit: Benchmark = async (ctx) => {
  const concurrency = ctx.num('concurrency', 1);
  const seconds = ctx.num('seconds', 3);
  const db = openLevel(path.join(ctx.scratch, 'level'));
  await db.open();
  const data = payloads();
  let next = 1n;
  ctx.markBaseline();
  const result = await timedLoops(concurrency, seconds, async () => {
    const batch = db.batch();
    for (let r = 0; r < RECORDS_PER_TXN; r += 1) {
      batch.put(oidKey(next), data[r % data.length] as Buffer);
      next += 1n;
    }
    await batch.write({ sync: true });
  });
  await db.close();
  return loopMetrics(result);
};

async function openDataset(ctx: BenchContext): Promise<{ db: Level; openMs: number }> {
  const dir = path.join(ctx.dataset(ctx.str('dataset')), 'level');
  ctx.markBaseline();
  const start = nowMs();
  const db = openLevel(dir);
  await db.open();
  return { db, openMs: nowMs() - start };
}

/** Random gets over a dataset with `concurrency` readers (after a 1 s warm-up). */
export const levelLoad: Benchmark = async (ctx) => {
  const count = ctx.num('count');
  const concurrency = ctx.num('concurrency', 1);
  const seconds = ctx.num('seconds', 3);
  const { db } = await openDataset(ctx);
  const pick = keyPicker(count);
  const read = async (): Promise<void> => {
    const value = await db.get(oidKey(BigInt(pick() + 1)));
    if (value === undefined) throw new Error('classic-level: key missing');
  };
  await timedLoops(concurrency, 1, read);
  const result = await timedLoops(concurrency, seconds, read);
  await db.close();
  return loopMetrics(result);
};

/** Open time of a dataset plus 1000 random gets; memory growth is measured over both. */
export const levelOpen: Benchmark = async (ctx) => {
  const count = ctx.num('count');
  const { db, openMs } = await openDataset(ctx);
  const pick = keyPicker(count, 7);
  const start = nowMs();
  for (let i = 0; i < 1000; i += 1) await db.get(oidKey(BigInt(pick() + 1)));
  const loadsMs = nowMs() - start;
  ctx.sampleMemory();
  await db.close();
  return { openMs, firstLoadsMs: loadsMs };
};

/** Deletes of `count` keys in durable batches of 1000 (the external-GC reference). */
export const levelDelete: Benchmark = async (ctx) => {
  const count = ctx.num('count');
  const db = openLevel(path.join(ctx.scratch, 'level'));
  await db.open();
  await fill(db, count, 10_000, true);
  ctx.markBaseline();
  const start = nowMs();
  for (let first = 1; first <= count; first += 1000) {
    const batch = db.batch();
    const last = Math.min(count, first + 999);
    for (let oid = first; oid <= last; oid += 1) batch.del(oidKey(BigInt(oid)));
    await batch.write({ sync: true });
  }
  const ms = nowMs() - start;
  await db.close();
  return { deletesPerSec: count / (ms / 1000), ms };
};
