/** Raw disk references: sequential write (no sync / one fdatasync at the end), 4 KiB append fdatasync rate, sequential read. */
import { randomBytes } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync, promises as fsp, readSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import type { Benchmark } from '../harness/context.js';
import { MiB, nowMs, writeRandomFile } from '../harness/io.js';
import { Latencies } from '../harness/stats.js';

/** Sequential write of `size` bytes in 1 MiB writeSync calls; `sync` = 'none' | 'end'. */
export const diskSeqWrite: Benchmark = async (ctx) => {
  const size = ctx.num('size');
  const sync = ctx.str('sync', 'none');
  const file = path.join(ctx.scratch, 'seqwrite.bin');
  const pool = Array.from({ length: 8 }, () => randomBytes(MiB));
  ctx.markBaseline();
  const start = nowMs();
  const fd = openSync(file, 'w');
  let written = 0;
  let i = 0;
  while (written < size) {
    const n = Math.min(MiB, size - written);
    writeSync(fd, pool[i % pool.length] as Buffer, 0, n);
    written += n;
    i += 1;
  }
  let syncMs = 0;
  if (sync === 'end') {
    const s = nowMs();
    fdatasyncSync(fd);
    syncMs = nowMs() - s;
  }
  closeSync(fd);
  const ms = nowMs() - start;
  await fsp.rm(file, { force: true });
  return { mibps: size / MiB / (ms / 1000), ms, syncMs };
};

/** Appends 4 KiB and fdatasyncs it `count` times with synchronous calls; rate and latency. */
export function fdatasyncLoop(file: string, count: number): { opsPerSec: number; p50: number; p99: number; max: number } {
  const block = randomBytes(4096);
  const lat = new Latencies();
  const fd = openSync(file, 'a');
  const start = nowMs();
  try {
    for (let i = 0; i < count; i += 1) {
      const s = nowMs();
      writeSync(fd, block);
      fdatasyncSync(fd);
      lat.add(nowMs() - s);
    }
  } finally {
    closeSync(fd);
  }
  const total = nowMs() - start;
  return { opsPerSec: count / (total / 1000), p50: lat.quantile(0.5), p99: lat.quantile(0.99), max: lat.max() };
}

/** fdatasync after each 4 KiB append: commits per second and latency percentiles (`api`: 'sync' | 'async'). */
export const diskFdatasync: Benchmark = async (ctx) => {
  const count = ctx.num('count', 1000);
  const api = ctx.str('api', 'sync');
  const file = path.join(ctx.scratch, 'fsync.bin');
  ctx.markBaseline();
  if (api === 'sync') {
    const result = fdatasyncLoop(file, count);
    await fsp.rm(file, { force: true });
    return result;
  }
  const block = randomBytes(4096);
  const lat = new Latencies();
  const fh = await fsp.open(file, 'a');
  const start = nowMs();
  for (let i = 0; i < count; i += 1) {
    const s = nowMs();
    await fh.write(block);
    await fh.datasync();
    lat.add(nowMs() - s);
  }
  const total = nowMs() - start;
  await fh.close();
  await fsp.rm(file, { force: true });
  return { opsPerSec: count / (total / 1000), p50: lat.quantile(0.5), p99: lat.quantile(0.99), max: lat.max() };
};

/** Sequential read of a `size`-byte file just written (warm page cache), 1 MiB readSync calls. */
export const diskSeqRead: Benchmark = async (ctx) => {
  const size = ctx.num('size');
  const file = path.join(ctx.scratch, 'seqread.bin');
  await writeRandomFile(file, size);
  const buf = Buffer.allocUnsafe(MiB);
  ctx.markBaseline();
  const start = nowMs();
  const fd = openSync(file, 'r');
  let pos = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, MiB, pos);
    if (n === 0) break;
    pos += n;
  }
  closeSync(fd);
  const ms = nowMs() - start;
  await fsp.rm(file, { force: true });
  return { mibps: pos / MiB / (ms / 1000), ms };
};
