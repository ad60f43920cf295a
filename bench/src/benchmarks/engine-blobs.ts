/** Engine blob workloads: large blob write and read, and partial update of a large blob. */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createDatabase } from '@handlerton/framework';
import type { Benchmark, BenchContext } from '../harness/context.js';
import { UnavailableError } from '../harness/context.js';
import { generated, partialUpdate, revisionStream, writeBlob } from '../harness/blobs.js';
import { engineLocation, engineName, isDurable, openBlobs, openStorage, type EngineName } from '../harness/engines.js';
import { diskUsage, MiB, nowMs, writeRandomFile } from '../harness/io.js';
import { watchEventLoop } from '../harness/loop.js';
import { median } from '../harness/stats.js';
import { watchWalPeaks } from '../harness/wal-watch.js';
import { rawSqliteChunkWrite } from './sqlite-raw.js';
import { readBlobToFile, writeFileAsBlob } from '../harness/db-blob-files.js';

/** Moves a file into a committed blob and the blob back out to a file; returns the two durations. */
type BlobRoundTrip = (src: string, dst: string) => Promise<{ writeMs: number; readMs: number }>;

/** Through the handlerton contract: draft writes, prepare + commit, RevisionReader reads. */
async function rawRoundTrip(ctx: BenchContext, engine: EngineName): Promise<{ run: BlobRoundTrip; close: () => Promise<void> }> {
  const blobs = await openBlobs(engine, ctx.scratch);
  const run: BlobRoundTrip = async (src, dst) => {
    const w0 = nowMs();
    const written = await writeBlob(blobs, createReadStream(src, { highWaterMark: MiB }));
    const writeMs = nowMs() - w0;
    const r0 = nowMs();
    await pipeline(await revisionStream(blobs, written.blobId, written.revision), createWriteStream(dst, { highWaterMark: MiB }));
    return { writeMs, readMs: nowMs() - r0 };
  };
  return { run, close: () => blobs.close() };
}

/** Through the Database API: a transaction's blob handle write stream, then a snapshot's read stream. */
async function dbRoundTrip(ctx: BenchContext, engine: EngineName): Promise<{ run: BlobRoundTrip; close: () => Promise<void> }> {
  const storage = await openStorage(engine, ctx.scratch);
  const blobs = await openBlobs(engine, ctx.scratch);
  const db = await createDatabase({ storage, blobs });
  const run: BlobRoundTrip = async (src, dst) => {
    const w0 = nowMs();
    const oid = await writeFileAsBlob(db, src);
    const writeMs = nowMs() - w0;
    const r0 = nowMs();
    await readBlobToFile(db, oid, dst);
    return { writeMs, readMs: nowMs() - r0 };
  };
  return { run, close: () => db.close() };
}

/**
 * Streams a `size`-byte file into a new blob (committed durably) and back out to a file, 1 MiB
 * at a time, through the Database API (`api` 'db') or the raw handlerton (`api` 'raw'):
 * throughput of each direction, event-loop delay and RSS growth over both.
 */
export const engineBlob: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const size = ctx.num('size');
  const src = path.join(ctx.scratch, 'src.bin');
  const dst = path.join(ctx.scratch, 'dst.bin');
  await writeRandomFile(src, size);
  // Paired references in this process, just before the blob: idle event loop, then a raw stream copy of the same file.
  const paired: Record<string, number> = {};
  if (ctx.bool('pair')) {
    const stopIdle = watchEventLoop();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idle = stopIdle();
    paired['idleP99'] = idle.p99;
    paired['idleMax'] = idle.max;
    const c0 = nowMs();
    await pipeline(createReadStream(src, { highWaterMark: MiB }), createWriteStream(dst, { highWaterMark: MiB }));
    paired['copyMiBps'] = size / MiB / ((nowMs() - c0) / 1000);
    await fsp.rm(dst, { force: true });
    if (engine === 'sqlite') {
      // The same chunks inserted by raw better-sqlite3 in the engine's transaction shape.
      const rawDir = path.join(ctx.scratch, 'raw-sqlite');
      await fsp.mkdir(rawDir);
      paired['rawSqliteMiBps'] = await rawSqliteChunkWrite(rawDir, src);
      await fsp.rm(rawDir, { recursive: true, force: true });
    }
  }
  const subject = ctx.str('api', 'db') === 'raw' ? await rawRoundTrip(ctx, engine) : await dbRoundTrip(ctx, engine);
  try {
    ctx.markBaseline();
    const location = engineLocation(engine, ctx.scratch);
    const stopWal = engine === 'sqlite' && location !== undefined ? watchWalPeaks([`${location}-blobs-wal`]) : undefined;
    const stop = watchEventLoop();
    const { writeMs, readMs } = await subject.run(src, dst);
    const loop = stop();
    const walPeak = stopWal?.()[0];
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
      ...(walPeak === undefined ? {} : { blobWalPeakMiB: walPeak / MiB }),
      ...paired,
    };
  } finally {
    await subject.close();
    await fsp.rm(src, { force: true });
    await fsp.rm(dst, { force: true });
  }
};

/**
 * Writes a `size`-byte blob, then 5 times writes 4 KiB into its middle through a draft based on
 * the latest revision (`r+`) and commits: median commit latency, and the storage growth per update
 * measured between two clean closes (so that a WAL checkpoint or journal is settled).
 */
export const enginePartial: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const size = ctx.num('size');
  const updates = 5;
  let blobs = await openBlobs(engine, ctx.scratch);
  if (!blobs.capabilities.partialUpdate) {
    await blobs.close();
    throw new UnavailableError(`${engine} blob handlerton does not claim partialUpdate`);
  }
  const pool = Array.from({ length: 8 }, () => randomBytes(MiB));
  let { blobId, revision } = await writeBlob(blobs, generated(size, pool));
  let before = 0;
  if (isDurable(engine)) {
    await blobs.close();
    before = await diskUsage(ctx.scratch);
    blobs = await openBlobs(engine, ctx.scratch);
  }
  ctx.markBaseline();
  const latencies: number[] = [];
  try {
    for (let i = 0; i < updates; i += 1) {
      const t0 = nowMs();
      revision = await partialUpdate(blobs, blobId, revision, randomBytes(4096), Math.floor(size / 2) + i * 65536);
      latencies.push(nowMs() - t0);
    }
  } finally {
    await blobs.close();
  }
  const metrics: Record<string, number> = { commitMs: median(latencies), commitMaxMs: Math.max(...latencies) };
  if (isDurable(engine)) metrics['growthKiB'] = ((await diskUsage(ctx.scratch)) - before) / updates / 1024;
  return metrics;
};
