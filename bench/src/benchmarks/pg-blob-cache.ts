/**
 * PostgreSQL blob reads with the local blob cache (issue 14: "with the blob cache warm, blob reads at
 * least 70% of a raw stream copy of the cached file"), on a throwaway cluster (or HANDLERTON_PG_URL).
 */
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openDatabase, type Database, type Oid } from '@handlerton/framework';
import { UnavailableError, type Benchmark } from '../harness/context.js';
import { MiB, nowMs } from '../harness/io.js';
import { watchEventLoop } from '../harness/loop.js';
import { readBlobToFile } from '../harness/db-blob-files.js';

/** Reads blob `oid` through a snapshot's read stream into `dst` (1 MiB highWaterMark, as engine.blob); MiB/s. */
async function readBlob(db: Database, oid: Oid, dst: string, size: number): Promise<number> {
  const start = nowMs();
  await readBlobToFile(db, oid, dst);
  const ms = nowMs() - start;
  const copied = (await fsp.stat(dst)).size;
  if (copied !== size) throw new Error(`read back ${copied} bytes, expected ${size}`);
  await fsp.rm(dst);
  return size / MiB / (ms / 1000);
}

/**
 * Writes a `size`-byte blob (not measured), then reads it: from the server without the cache
 * (`coldMiBps`), once with the cache on (`fillMiBps`: the fill plus the read), warm (`warmMiBps`),
 * and the paired reference: a raw fs stream copy of the cache file (`copyMiBps`, same trial).
 */
export const pgBlobCache: Benchmark = async (ctx) => {
  const size = ctx.num('size');
  let testing: typeof import('@handlerton/postgres/testing');
  try {
    testing = await import('@handlerton/postgres/testing');
  } catch (error) {
    throw new UnavailableError(`@handlerton/postgres is not built: ${String(error)}`);
  }
  const started = await testing.startTestServer();
  if (!('server' in started)) throw new UnavailableError(`no PostgreSQL server: ${started.skip}`);
  const { server } = started;
  const schema = server.newSchemaName('bench_cache');
  const cacheDir = path.join(ctx.scratch, 'blob-cache');
  const dst = path.join(ctx.scratch, 'dst.bin');
  const open = (cache: boolean): Promise<Database> =>
    openDatabase({ engine: 'postgres', path: server.url, options: { schema, poolSize: 4, ...(cache ? { blobCacheDir: cacheDir, blobCacheBytes: 2 * size } : {}) } });
  try {
    const piece = Buffer.alloc(MiB);
    for (let i = 0; i < MiB; i++) piece[i] = (i * 31) & 0xff;
    const writer = await open(false);
    const oid = await writer.transaction(async (tx) => {
      const blob = await tx.createBlob();
      const handle = await blob.open('w');
      await pipeline(Readable.from((function* () { for (let n = 0; n < size / MiB; n++) yield piece; })()), handle.createWriteStream());
      await tx.write(0n, new TextEncoder().encode('root'), { refs: [blob.oid] });
      return blob.oid;
    });
    const coldMiBps = await readBlob(writer, oid, dst, size);
    await writer.close();
    const db = await open(true);
    try {
      const fillMiBps = await readBlob(db, oid, dst, size);
      const [file] = (await fsp.readdir(cacheDir)).filter((n) => n.endsWith('.blob'));
      if (file === undefined) throw new Error('the read left no cache file');
      const c0 = nowMs();
      await pipeline(createReadStream(path.join(cacheDir, file), { highWaterMark: MiB }), createWriteStream(dst, { highWaterMark: MiB }));
      const copyMiBps = size / MiB / ((nowMs() - c0) / 1000);
      await fsp.rm(dst);
      ctx.markBaseline();
      const stop = watchEventLoop();
      const warmMiBps = await readBlob(db, oid, dst, size);
      const loop = stop();
      ctx.sampleMemory();
      return { coldMiBps, fillMiBps, warmMiBps, copyMiBps, loopP99: loop.p99 };
    } finally {
      await db.close();
    }
  } finally {
    await server.dropSchema(schema).catch(() => undefined);
    await server.stop();
  }
};
