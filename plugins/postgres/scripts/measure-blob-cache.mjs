#!/usr/bin/env node
/**
 * Measures blob read throughput with the local blob cache (not a test; run after `npx tsc -b`):
 *   node plugins/postgres/scripts/measure-blob-cache.mjs [MiB=256] [rounds=3]
 * On a throwaway cluster (or HANDLERTON_PG_URL), writes one blob through the Database API, then reads
 * it (Database API read stream -> file, 1 MiB highWaterMark, as bench `engine.blob` does):
 *   cold: without the cache (every byte from the server); fill: the first read with the cache on
 *   (server -> cache file, then from the file); warm: later reads with the cache on; and the
 *   reference: pipeline(fs.createReadStream(cache file), fs.createWriteStream) of the same bytes.
 * Prints MiB/s per round, the best of each, warm/raw, and /proc/loadavg before and after.
 */
import { createReadStream, createWriteStream, promises as fsp, readFileSync } from 'node:fs';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { openDatabase } from '@handlerton/framework';
import { startTestServer } from '@handlerton/postgres/testing';

const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 256) * MiB;
const rounds = Number(process.argv[3] ?? 3);
const load = () => readFileSync('/proc/loadavg', 'utf8').trim();
const now = () => Number(process.hrtime.bigint()) / 1e6;

const started = await startTestServer();
if (!('server' in started)) throw new Error(`no PostgreSQL server: ${started.skip}`);
const { server } = started;
const scratch = await fsp.mkdtemp(join(tmpdir(), 'htpg-measure-'));
const cacheDir = join(scratch, 'cache');
const dst = join(scratch, 'dst.bin');
const schema = server.newSchemaName('measure');
const config = (cache) => ({
  engine: 'postgres',
  path: server.url,
  options: { schema, poolSize: 4, ...(cache ? { blobCacheDir: cacheDir, blobCacheBytes: 2 * size } : {}) },
});
console.log(`blob ${size / MiB} MiB, ${rounds} rounds; loadavg before: ${load()}`);
try {
  // Write the blob (deterministic bytes, 1 MiB pieces).
  let oid;
  {
    const db = await openDatabase(config(false));
    const piece = Buffer.alloc(MiB);
    for (let i = 0; i < MiB; i++) piece[i] = (i * 31) & 0xff;
    const t0 = now();
    oid = await db.transaction(async (tx) => {
      const blob = await tx.createBlob();
      const handle = await blob.open('w');
      await pipeline(Readable.from((function* () { for (let n = 0; n < size / MiB; n++) yield piece; })()), handle.createWriteStream());
      await tx.write(0n, new TextEncoder().encode('root'), { refs: [blob.oid] });
      return blob.oid;
    });
    console.log(`write: ${((size / MiB) / ((now() - t0) / 1000)).toFixed(1)} MiB/s`);
    await db.close();
  }
  const readOnce = async (db) => {
    const t0 = now();
    const snapshot = await db.snapshot();
    try {
      const handle = await (await snapshot.blob(oid)).open('r');
      await pipeline(handle.createReadStream({ highWaterMark: MiB }), createWriteStream(dst, { highWaterMark: MiB }));
      await handle.close();
    } finally {
      await snapshot.close();
    }
    const ms = now() - t0;
    if ((await fsp.stat(dst)).size !== size) throw new Error('short read');
    await fsp.rm(dst);
    return size / MiB / (ms / 1000);
  };
  const results = { cold: [], fill: [], warm: [], raw: [] };
  for (let round = 0; round < rounds; round++) {
    const plain = await openDatabase(config(false));
    results.cold.push(await readOnce(plain));
    await plain.close();
    await fsp.rm(cacheDir, { recursive: true, force: true });
    const cached = await openDatabase(config(true));
    results.fill.push(await readOnce(cached));
    results.warm.push(await readOnce(cached));
    const [file] = (await fsp.readdir(cacheDir)).filter((n) => n.endsWith('.blob'));
    const t0 = now();
    await pipeline(createReadStream(join(cacheDir, file), { highWaterMark: MiB }), createWriteStream(dst, { highWaterMark: MiB }));
    results.raw.push(size / MiB / ((now() - t0) / 1000));
    await fsp.rm(dst);
    results.warm.push(await readOnce(cached));
    await cached.close();
    console.log(`round ${round + 1}: ${Object.entries(results).map(([k, v]) => `${k} ${v.slice(-(k === 'warm' ? 2 : 1)).map((x) => x.toFixed(0)).join('/')}`).join(', ')} MiB/s`);
  }
  const best = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.max(...v)]));
  console.log(`best MiB/s: cold (server) ${best.cold.toFixed(1)}, first read with cache (fill) ${best.fill.toFixed(1)}, warm cache ${best.warm.toFixed(1)}, raw createReadStream copy of the cache file ${best.raw.toFixed(1)}`);
  console.log(`warm/raw ${(best.warm / best.raw * 100).toFixed(0)}%, warm/cold ${(best.warm / best.cold).toFixed(1)}x; loadavg after: ${load()}`);
} finally {
  await fsp.rm(scratch, { recursive: true, force: true });
  await server.dropSchema(schema).catch(() => undefined);
  await server.stop();
}
