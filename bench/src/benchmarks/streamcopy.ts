/** Raw Node fs stream copy (1 MiB chunks): the reference for blob throughput; also the idle event-loop baseline. */
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Benchmark } from '../harness/context.js';
import { MiB, nowMs, writeRandomFile } from '../harness/io.js';
import { watchEventLoop } from '../harness/loop.js';

/** pipeline(createReadStream, createWriteStream) of a `size`-byte file with 1 MiB highWaterMark. */
export const streamCopy: Benchmark = async (ctx) => {
  const size = ctx.num('size');
  const src = path.join(ctx.scratch, 'src.bin');
  const dst = path.join(ctx.scratch, 'dst.bin');
  await writeRandomFile(src, size);
  ctx.markBaseline();
  const stop = watchEventLoop();
  const start = nowMs();
  await pipeline(createReadStream(src, { highWaterMark: MiB }), createWriteStream(dst, { highWaterMark: MiB }));
  const ms = nowMs() - start;
  const loop = stop();
  await fsp.rm(src, { force: true });
  await fsp.rm(dst, { force: true });
  return { mibps: size / MiB / (ms / 1000), ms, loopP99: loop.p99, loopMax: loop.max };
};

/** Event-loop delay of an idle process over `seconds` (with the RSS sampler running, as in every benchmark). */
export const idleLoop: Benchmark = async (ctx) => {
  const seconds = ctx.num('seconds', 3);
  ctx.markBaseline();
  const stop = watchEventLoop();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const loop = stop();
  return { loopP50: loop.p50, loopP99: loop.p99, loopMax: loop.max };
};
