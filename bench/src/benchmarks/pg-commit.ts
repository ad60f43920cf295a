/**
 * PostgreSQL small commits (issue 14): 100 × 200 B writes to existing objects per transaction, one
 * client, measured in one trial on one server at three levels: raw `pg` (BEGIN, one 100-row
 * `unnest` insert, COMMIT), the engine's Storage contract (tpcBegin, storeMany or 100 × store,
 * tpcVote, tpcFinish) and the Database API (`db.transaction` with 100 `tx.write`). The variants
 * take turns in short rounds, so that the machine's noise falls on all of them alike.
 */
import { NO_REFS, storageTransaction, storeMany, type Oid, type Storage, type Tid } from '@handlerton/framework';
import type pg from 'pg';
import type { Benchmark } from '../harness/context.js';
import { nowMs } from '../harness/io.js';
import { watchEventLoop } from '../harness/loop.js';
import { openPgDatabase, openPgStorage, rawClient, withPgServer } from '../harness/pg-server.js';
import { Latencies } from '../harness/stats.js';
import { payloads, RECORDS_PER_TXN } from '../harness/workload.js';

/** One variant's commit: runs one transaction. */
type CommitOnce = (i: number) => Promise<void>;

/** Raw pg: a table shaped like the engine's object_state (PK (zoid, tid)), 100-row inserts per transaction. */
export async function rawPgCommitter(client: pg.Client, schema: string, data: readonly Buffer[]): Promise<CommitOnce> {
  const table = `${schema}.obj`;
  await client.query(`create schema if not exists ${schema}`);
  await client.query(`create table ${table} (zoid bigint not null, tid bigint not null, data bytea, primary key (zoid, tid))`);
  const oids = Array.from({ length: RECORDS_PER_TXN }, (_, i) => String(i + 1));
  await client.query(`insert into ${table} select z, 1, $2 from unnest($1::int8[]) as u(z)`, [oids, data[0]]);
  const insert = { name: `raw_insert_${schema}`, text: `insert into ${table} (zoid, tid, data) select z, $2, d from unnest($1::int8[], $3::bytea[]) as u(z, d)` };
  let tid = 1;
  return async (i) => {
    tid += 1;
    await client.query('begin');
    try {
      await client.query({ ...insert, values: [oids, String(tid), oids.map((_, r) => data[(r + i) % data.length])] });
    } catch (error) {
      await client.query('rollback');
      throw error;
    }
    await client.query('commit');
  };
}

/** The Storage contract: 100 existing objects rewritten per transaction, with `storeMany` or 100 `store` calls. */
export async function contractCommitter(storage: Storage, data: readonly Buffer[], many: boolean): Promise<CommitOnce> {
  const oids: Oid[] = [];
  for (let i = 0; i < RECORDS_PER_TXN; i += 1) oids.push(await storage.newOid());
  const serials = new Map<Oid, Tid>(oids.map((oid) => [oid, 0n]));
  const commit = async (i: number): Promise<void> => {
    const txn = storageTransaction();
    await storage.tpcBegin(txn);
    try {
      const record = (r: number) => ({ data: data[(r + i) % data.length] as Buffer, refs: NO_REFS });
      if (many) await storeMany(storage, oids.map((oid, r) => ({ oid, serial: serials.get(oid)!, record: record(r) })), txn);
      else for (const [r, oid] of oids.entries()) await storage.store(oid, serials.get(oid)!, record(r), txn);
      await storage.tpcVote(txn);
    } catch (error) {
      await storage.tpcAbort(txn);
      throw error;
    }
    const tid = await storage.tpcFinish(txn);
    for (const oid of oids) serials.set(oid, tid);
  };
  await commit(0); // creates the objects
  return commit;
}

interface Tally {
  count: number;
  ms: number;
  readonly lat: Latencies;
}

/** Runs `commit` for `seconds`, adding to `tally`. */
async function runFor(commit: CommitOnce, seconds: number, tally: Tally): Promise<void> {
  const start = nowMs();
  const deadline = start + seconds * 1000;
  let i = tally.count;
  while (nowMs() < deadline) {
    const s = nowMs();
    await commit(i);
    tally.lat.add(nowMs() - s);
    i += 1;
    tally.count += 1;
  }
  tally.ms += nowMs() - start;
}

/**
 * One client, one server: raw pg, Storage contract (storeMany and 100 × store) and Database API
 * commits of 100 × 200 B to existing objects, in `rounds` alternating rounds of `seconds` / rounds
 * each after a warm-up of each. Reports txn/s and p99 for each, and the loop delay of the DB API.
 */
export const pgCommit: Benchmark = async (ctx) => {
  const seconds = ctx.num('seconds', 3);
  const rounds = ctx.num('rounds', 3);
  const durable = ctx.bool('durable', true);
  return withPgServer(durable, async (server) => {
    const data = payloads();
    const client = await rawClient(server.url);
    const storage = await openPgStorage(server, server.schema('commit_contract'));
    const db = await openPgDatabase(server, server.schema('commit_db'));
    try {
      const dbOids = await db.transaction(async (tx) => {
        const made: Oid[] = [];
        for (let r = 0; r < RECORDS_PER_TXN; r += 1) made.push(await tx.create(data[r % data.length] as Buffer));
        return made;
      });
      const variants: Record<string, CommitOnce> = {
        raw: await rawPgCommitter(client, server.schema('raw'), data),
        storeMany: await contractCommitter(storage, data, true),
        store: await contractCommitter(storage, data, false),
        db: async (i) => {
          await db.transaction(async (tx) => {
            for (const [r, oid] of dbOids.entries()) await tx.write(oid, data[(r + i) % data.length] as Buffer);
          });
        },
      };
      const tallies = new Map(Object.keys(variants).map((k) => [k, { count: 0, ms: 0, lat: new Latencies() } as Tally]));
      for (const commit of Object.values(variants)) await runFor(commit, 0.5, { count: 0, ms: 0, lat: new Latencies() });
      ctx.markBaseline();
      const loops: number[] = [];
      for (let round = 0; round < rounds; round += 1) {
        for (const [name, commit] of Object.entries(variants)) {
          const stop = name === 'db' ? watchEventLoop() : undefined;
          await runFor(commit, seconds / rounds, tallies.get(name)!);
          if (stop !== undefined) loops.push(stop().p99);
        }
      }
      const metrics: Record<string, number> = { durable: server.durable ? 1 : 0, loopP99: Math.max(...loops) };
      for (const [name, t] of tallies) {
        metrics[`${name}OpsPerSec`] = t.count / (t.ms / 1000);
        metrics[`${name}P99`] = t.lat.quantile(0.99);
      }
      return metrics;
    } finally {
      await db.close();
      await storage.close();
      await client.end();
    }
  });
};
