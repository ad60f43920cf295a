/**
 * PostgreSQL random loads (issue 14): `count` objects of 200 B written through the engine's bulk
 * path (Storage `restore` in transactions of 10k, as `handlerton copy` does), the same rows copied
 * server-side into a raw table of the same shape; then random `Storage.load` calls against raw
 * `pg` prepared SELECTs of the newest revision, 1 and 8 at a time, in alternating rounds.
 */
import { NO_REFS, storageTransaction, type Storage } from '@handlerton/framework';
import pg from 'pg';
import type { Benchmark } from '../harness/context.js';
import { nowMs, yieldLoop } from '../harness/io.js';
import { openPgStorage, withPgServer } from '../harness/pg-server.js';
import { keyPicker, payloads } from '../harness/workload.js';

/** Objects per restore transaction while filling. */
const FILL_BATCH = 10_000;

/** Restores objects 1..count (200 B each) in transactions of FILL_BATCH. */
async function fill(storage: Storage, count: number): Promise<void> {
  const data = payloads();
  for (let first = 1; first <= count; first += FILL_BATCH) {
    const txn = storageTransaction({ description: 'bench fill' });
    await storage.tpcBegin(txn);
    try {
      const last = Math.min(count, first + FILL_BATCH - 1);
      for (let oid = first; oid <= last; oid += 1) await storage.restore(BigInt(oid), { data: data[oid % data.length] as Buffer, refs: NO_REFS }, txn);
      await storage.tpcVote(txn);
    } catch (error) {
      await storage.tpcAbort(txn);
      throw error;
    }
    await storage.tpcFinish(txn);
    await yieldLoop();
  }
}

/** `concurrency` loops of `read(oid)` over random oids in 1..count for `seconds`; adds to the tally. */
async function reads(read: (oid: number) => Promise<unknown>, count: number, concurrency: number, seconds: number, seed: number, tally: { n: number; ms: number }): Promise<void> {
  const start = nowMs();
  const deadline = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      const pick = keyPicker(count, seed + w);
      while (nowMs() < deadline) {
        await read(pick() + 1);
        tally.n += 1;
      }
    }),
  );
  tally.ms += nowMs() - start;
}

/**
 * Fills `count` objects, then measures random loads, 1 and 8 concurrent (engine pool 8, raw pool 8),
 * `rounds` alternating rounds over `seconds`. Metrics: fill time, loads/s of each.
 */
export const pgLoad: Benchmark = async (ctx) => {
  const count = ctx.num('count');
  const seconds = ctx.num('seconds', 3);
  const rounds = ctx.num('rounds', 3);
  return withPgServer(ctx.bool('durable', true), async (server) => {
    const schema = server.schema('load');
    const rawSchema = server.schema('rawload');
    const storage = await openPgStorage(server, schema, { poolSize: 8 });
    const pool = new pg.Pool({ connectionString: server.url, max: 8 });
    try {
      const f0 = nowMs();
      await fill(storage, count);
      const fillSec = (nowMs() - f0) / 1000;
      await pool.query(`create schema ${rawSchema}`);
      await pool.query(`create table ${rawSchema}.obj (zoid bigint not null, tid bigint not null, data bytea, primary key (zoid, tid))`);
      await pool.query(`insert into ${rawSchema}.obj select zoid, tid, data from ${schema}.object_state`);
      await pool.query(`vacuum analyze ${rawSchema}.obj`);
      await pool.query(`vacuum analyze ${schema}.object_state`);
      const select = { name: 'raw_load', text: `select tid, data from ${rawSchema}.obj where zoid = $1 order by tid desc limit 1` };
      const rawRead = async (oid: number): Promise<void> => {
        const { rows } = await pool.query({ ...select, values: [oid] });
        if (rows.length !== 1) throw new Error(`raw row ${oid} missing`);
      };
      const engineRead = (oid: number) => storage.load(BigInt(oid));
      const variants = { raw1: [rawRead, 1], engine1: [engineRead, 1], raw8: [rawRead, 8], engine8: [engineRead, 8] } as const;
      for (const [read, c] of Object.values(variants)) await reads(read, count, c, 0.5, 7, { n: 0, ms: 0 });
      ctx.markBaseline();
      const tallies = Object.fromEntries(Object.keys(variants).map((k) => [k, { n: 0, ms: 0 }]));
      for (let round = 0; round < rounds; round += 1) {
        for (const [name, [read, c]] of Object.entries(variants)) await reads(read, count, c, seconds / rounds, 42 + round * 16, tallies[name]!);
      }
      const metrics: Record<string, number> = { fillSec, durable: server.durable ? 1 : 0 };
      for (const [name, t] of Object.entries(tallies)) metrics[`${name}OpsPerSec`] = t.n / (t.ms / 1000);
      return metrics;
    } finally {
      await pool.end();
      await storage.close();
    }
  });
};
