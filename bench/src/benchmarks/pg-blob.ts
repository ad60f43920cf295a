/**
 * PostgreSQL large blobs (issue 14): a `size`-byte file streamed into a committed blob and back out
 * through the Database API, against the raw PostgreSQL paths measured in the same trial on the same
 * server: 1 MiB `bytea` chunk rows (bound binary parameters, one transaction; read back row by row)
 * and large objects (`lo_create` + `lowrite` / `loread` of 1 MiB, one transaction each way). Also
 * peak RSS growth and event-loop delay over the engine's write + read, against the idle loop (and
 * against the loop delay of the raw paths' own transfers, which share the machine's noise).
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type pg from 'pg';
import type { Benchmark } from '../harness/context.js';
import { MiB, nowMs, writeRandomFile } from '../harness/io.js';
import { watchEventLoop } from '../harness/loop.js';
import { openPgDatabase, rawClient, withPgServer } from '../harness/pg-server.js';
import { readBlobToFile, writeFileAsBlob } from '../harness/db-blob-files.js';

/** Large-object open modes (libpq's INV_WRITE, INV_READ). */
const INV_WRITE = 0x20000;
const INV_READ = 0x40000;

/** Writes every 1 MiB of `src` with `put`, inside one transaction on `client`. */
async function writeChunks(client: pg.Client, src: string, put: (chunk: Buffer, index: number) => Promise<void>): Promise<void> {
  await client.query('begin');
  let index = 0;
  for await (const chunk of createReadStream(src, { highWaterMark: MiB })) {
    await put(chunk as Buffer, index);
    index += 1;
  }
  await client.query('commit');
}

/** Appends chunks returned by `get(index)` to `dst` until it returns null, inside one transaction. */
async function readChunks(client: pg.Client, dst: string, get: (index: number) => Promise<Buffer | null>): Promise<void> {
  const fh = await fsp.open(dst, 'w');
  try {
    await client.query('begin');
    for (let index = 0; ; index += 1) {
      const chunk = await get(index);
      if (chunk === null || chunk.length === 0) break;
      await fh.write(chunk);
    }
    await client.query('commit');
  } finally {
    await fh.close();
  }
}

/** Raw bytea chunk rows: write and read MiB/s. */
async function rawChunkRows(client: pg.Client, schema: string, src: string, dst: string, size: number): Promise<{ write: number; read: number }> {
  await client.query(`create schema ${schema}`);
  await client.query(`create table ${schema}.chunk (blob int not null, idx int not null, data bytea not null, primary key (blob, idx))`);
  await client.query(`alter table ${schema}.chunk alter column data set storage external`);
  const w0 = nowMs();
  await writeChunks(client, src, async (chunk, index) => {
    await client.query({ name: 'raw_chunk_put', text: `insert into ${schema}.chunk values (1, $1, $2)`, values: [index, chunk] });
  });
  const write = size / MiB / ((nowMs() - w0) / 1000);
  const r0 = nowMs();
  await readChunks(client, dst, async (index) => {
    const { rows } = await client.query<{ data: Buffer }>({ name: 'raw_chunk_get', text: `select data from ${schema}.chunk where blob = 1 and idx = $1`, values: [index] });
    return rows[0]?.data ?? null;
  });
  return { write, read: size / MiB / ((nowMs() - r0) / 1000) };
}

/** Raw large object: write and read MiB/s. */
async function rawLargeObject(client: pg.Client, src: string, dst: string, size: number): Promise<{ write: number; read: number }> {
  let loid = '';
  let fd = 0;
  const w0 = nowMs();
  await writeChunks(client, src, async (chunk, index) => {
    if (index === 0) {
      loid = (await client.query<{ o: string }>('select lo_create(0)::text as o')).rows[0]!.o;
      fd = (await client.query<{ fd: number }>('select lo_open($1::oid, $2) as fd', [loid, INV_WRITE])).rows[0]!.fd;
    }
    await client.query({ name: 'raw_lo_write', text: 'select lowrite($1, $2)', values: [fd, chunk] });
  });
  const write = size / MiB / ((nowMs() - w0) / 1000);
  const r0 = nowMs();
  await readChunks(client, dst, async (index) => {
    if (index === 0) fd = (await client.query<{ fd: number }>('select lo_open($1::oid, $2) as fd', [loid, INV_READ])).rows[0]!.fd;
    const { rows } = await client.query<{ data: Buffer }>({ name: 'raw_lo_read', text: 'select loread($1, $2) as data', values: [fd, MiB] });
    return rows[0]?.data ?? null;
  });
  const read = size / MiB / ((nowMs() - r0) / 1000);
  await client.query('select lo_unlink($1::oid)', [loid]);
  return { write, read };
}

async function sameSize(file: string, size: number, what: string): Promise<void> {
  const got = (await fsp.stat(file)).size;
  if (got !== size) throw new Error(`${what} read back ${got} bytes, expected ${size}`);
}

/**
 * One trial: idle loop (2 s), raw chunk rows, raw large object, then the engine (Database API:
 * a transaction's blob handle write stream, a snapshot's read stream, 1 MiB chunks) with RSS and
 * loop delay. Metrics in MiB/s and ms; `bestRawWriteMiBps` / `bestRawReadMiBps` are the faster raw path.
 */
export const pgBlob: Benchmark = async (ctx) => {
  const size = ctx.num('size');
  const src = path.join(ctx.scratch, 'src.bin');
  const dst = path.join(ctx.scratch, 'dst.bin');
  await writeRandomFile(src, size);
  return withPgServer(ctx.bool('durable', true), async (server) => {
    const stopIdle = watchEventLoop();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idle = stopIdle();
    const client = await rawClient(server.url);
    let rows: { write: number; read: number };
    let lo: { write: number; read: number };
    const stopRaw = watchEventLoop();
    try {
      rows = await rawChunkRows(client, server.schema('rawblob'), src, dst, size);
      await sameSize(dst, size, 'raw chunk rows');
      lo = await rawLargeObject(client, src, dst, size);
      await sameSize(dst, size, 'raw large object');
    } finally {
      await client.end();
    }
    const rawLoop = stopRaw();
    await fsp.rm(dst, { force: true });
    const db = await openPgDatabase(server, server.schema('blob'));
    try {
      ctx.markBaseline();
      const stop = watchEventLoop();
      const w0 = nowMs();
      const oid = await writeFileAsBlob(db, src);
      const writeMs = nowMs() - w0;
      const r0 = nowMs();
      await readBlobToFile(db, oid, dst);
      const readMs = nowMs() - r0;
      const loop = stop();
      ctx.sampleMemory();
      await sameSize(dst, size, 'the engine');
      return {
        durable: server.durable ? 1 : 0,
        writeMiBps: size / MiB / (writeMs / 1000),
        readMiBps: size / MiB / (readMs / 1000),
        rawRowsWriteMiBps: rows.write,
        rawRowsReadMiBps: rows.read,
        rawLoWriteMiBps: lo.write,
        rawLoReadMiBps: lo.read,
        bestRawWriteMiBps: Math.max(rows.write, lo.write),
        bestRawReadMiBps: Math.max(rows.read, lo.read),
        loopP99: loop.p99,
        loopMax: loop.max,
        idleP99: idle.p99,
        rawLoopP99: rawLoop.p99,
      };
    } finally {
      await db.close();
      await fsp.rm(src, { force: true });
      await fsp.rm(dst, { force: true });
    }
  });
};
