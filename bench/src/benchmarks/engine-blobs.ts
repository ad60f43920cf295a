/** Engine blob workloads: large blob write and read, and partial update of a large blob. */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Benchmark } from '../harness/context.js';
import { UnavailableError } from '../harness/context.js';
import { generated, partialUpdate, revisionStream, writeBlob } from '../harness/blobs.js';
import { engineName, isDurable, openBlobs } from '../harness/engines.js';
import { diskUsage, MiB, nowMs, writeRandomFile } from '../harness/io.js';
import { watchEventLoop } from '../harness/loop.js';
import { median } from '../harness/stats.js';

/**
 * Streams a `size`-byte file into a new blob (file -> blob, committed durably) and back out
 * (blob -> file), 1 MiB at a time: throughput of each, event-loop delay and RSS growth over both.
 */
export const engineBlob: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const size = ctx.num('size');
  const src = path.join(ctx.scratch, 'src.bin');
  const dst = path.join(ctx.scratch, 'dst.bin');
  await writeRandomFile(src, size);
  const blobs = await openBlobs(engine, ctx.scratch);
  try {
    ctx.markBaseline();
    const stop = watchEventLoop();
    const w0 = nowMs();
    const written = await writeBlob(blobs, createReadStream(src, { highWaterMark: MiB }));
    const writeMs = nowMs() - w0;
    if (written.size !== size) throw new Error(`blob size ${written.size} != ${size}`);
    const r0 = nowMs();
    await pipeline(await revisionStream(blobs, written.blobId, written.revision), createWriteStream(dst, { highWaterMark: MiB }));
    const readMs = nowMs() - r0;
    const loop = stop();
    ctx.sampleMemory();
    const copied = (await fsp.stat(dst)).size;
    if (copied !== size) throw new Error(`read back ${copied} bytes, expected ${size}`);
    return {
      writeMiBps: size / MiB / (writeMs / 1000),
      readMiBps: size / MiB / (readMs / 1000),
      writeMs,
      readMs,
      loopP99: loop.p99,
      loopMax: loop.max,
    };
  } finally {
    await blobs.close();
    await fsp.rm(src, { force: true });
    await fsp.rm(dst, { force: true });
  }
};

/**
 * Writes a `size`-byte blob, then 5 times writes 4 KiB into its middle through a draft based on
 * the latest revision (`r+`) and commits: median commit latency and storage growth per update.
 */
export const enginePartial: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const size = ctx.num('size');
  const blobs = await openBlobs(engine, ctx.scratch);
  try {
    if (!blobs.capabilities.partialUpdate) {
      throw new UnavailableError(`${engine} blob handlerton does not claim partialUpdate`);
    }
    const pool = Array.from({ length: 8 }, () => randomBytes(MiB));
    let { blobId, revision } = await writeBlob(blobs, generated(size, pool));
    ctx.markBaseline();
    const latencies: number[] = [];
    const growth: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const before = isDurable(engine) ? await diskUsage(ctx.scratch) : 0;
      const t0 = nowMs();
      revision = await partialUpdate(blobs, blobId, revision, randomBytes(4096), Math.floor(size / 2) + i * 65536);
      latencies.push(nowMs() - t0);
      if (isDurable(engine)) growth.push((await diskUsage(ctx.scratch)) - before);
    }
    const metrics: Record<string, number> = { commitMs: median(latencies), commitMaxMs: Math.max(...latencies) };
    if (growth.length > 0) metrics['growthKiB'] = median(growth) / 1024;
    return metrics;
  } finally {
    await blobs.close();
  }
};
