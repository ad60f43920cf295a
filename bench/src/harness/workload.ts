/** Workload drivers shared by engines and references: timed commit loops and random-read loops. */
import { randomBytes } from 'node:crypto';
import { nowMs, rng } from './io.js';
import { Latencies } from './stats.js';

/** Records per small transaction and their size (the issues' commit workload). */
export const RECORDS_PER_TXN = 100;
export const RECORD_SIZE = 200;

/** A pool of random 200-byte payloads. */
export function payloads(count = 64, size = RECORD_SIZE): Buffer[] {
  return Array.from({ length: count }, () => randomBytes(size));
}

/** Result of a timed loop. */
export interface LoopResult {
  readonly opsPerSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly count: number;
}

/**
 * Runs `concurrency` loops calling `op(worker, i)` until `seconds` elapse (each op is one
 * transaction or one read); returns the aggregate rate and per-op latency.
 */
export async function timedLoops(
  concurrency: number,
  seconds: number,
  op: (worker: number, i: number) => Promise<void>,
): Promise<LoopResult> {
  const lat = new Latencies();
  const start = nowMs();
  const deadline = start + seconds * 1000;
  let count = 0;
  const loops = Array.from({ length: concurrency }, async (_, worker) => {
    let i = 0;
    while (nowMs() < deadline) {
      const s = nowMs();
      await op(worker, i);
      lat.add(nowMs() - s);
      i += 1;
      count += 1;
    }
  });
  await Promise.all(loops);
  const elapsed = nowMs() - start;
  return { opsPerSec: count / (elapsed / 1000), p50: lat.quantile(0.5), p99: lat.quantile(0.99), max: lat.max(), count };
}

/** Deterministic random picks of indexes in [0, n): the same sequence for every engine. */
export function keyPicker(n: number, seed = 42): () => number {
  const next = rng(seed);
  return () => Math.floor(next() * n);
}

/** Flattens a timed-loop result into metrics with a prefix-free naming. */
export function loopMetrics(result: LoopResult): Record<string, number> {
  return { opsPerSec: result.opsPerSec, p50: result.p50, p99: result.p99, max: result.max, count: result.count };
}

/** 8-byte big-endian key of an oid. */
export function oidKey(oid: bigint): Buffer {
  const key = Buffer.allocUnsafe(8);
  key.writeBigUInt64BE(oid);
  return key;
}
