#!/usr/bin/env node
/**
 * Where the time of a small commit goes (not a test; run after `npx tsc -b`):
 *   node plugins/postgres/scripts/measure-commit.mjs [clients=1,4] [seconds=4] [extraOptionsJson | raw]
 * On a durable throwaway cluster (fsync and synchronous_commit on), N client PROCESSES share one
 * schema and each commits `db.transaction` of 100 × 200 B writes to its own 100 objects (the bench's
 * pg.scale shape). Each client times every Storage call the Database makes (sync, tpcBegin,
 * storeMany, tpcVote, tpcFinish; the rest is framework work), a `select 1` round trip and its own
 * CPU; the parent adds the server's CPU (every process of the cluster, from /proc) and the WAL
 * flushes. Prints per-commit means in ms and /proc/loadavg. With `raw` instead of options, each client
 * runs raw pg in its own schema (BEGIN, one 100-row unnest insert into a table shaped like
 * object_state, COMMIT: the bench's reference) and only the totals mean anything.
 */
import { fork } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createDatabase, silentLogger, systemClock } from '@handlerton/framework';
import { plugin } from '@handlerton/postgres';
import pg from 'pg';

const now = () => Number(process.hrtime.bigint()) / 1e6;
const load = () => readFileSync('/proc/loadavg', 'utf8').trim();
const STEPS = ['sync', 'invalidationsSince', 'tpcBegin', 'storeMany', 'tpcVote', 'tpcFinish'];

async function openDb(url, schema, extra) {
  const context = { clock: systemClock, logger: silentLogger, fs };
  const options = (configPath) => plugin.parseOptions({ location: url, options: { schema, ...extra }, configPath });
  const storage = await plugin.createStorage(options('storage'), context);
  const blobs = await plugin.createBlobHandlerton(options('blobs'), context);
  return { storage, db: await createDatabase({ storage, blobs }) };
}

/** Raw pg commits in the bench's reference shape, in `schema` (a Database-like `transaction`). */
async function rawDb(url, schema) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`create schema ${schema}; create table ${schema}.obj (zoid bigint not null, tid bigint not null, deleted bool not null default false, data bytea, refs bytea, primary key (zoid, tid)); create index on ${schema}.obj (tid)`);
  let tid = 1;
  const transaction = async (fn) => {
    const rows = [];
    let oid = 0;
    const result = await fn({ create: async (data) => (rows.push([++oid, data]), oid), write: async (o, data) => void rows.push([o, data]) });
    tid += 1;
    await client.query('begin');
    await client.query({ name: 'ins', text: `insert into ${schema}.obj (zoid, tid, data, refs) select z, $2, d, '\\x'::bytea from unnest($1::int8[], $3::bytea[]) as u(z, d)`, values: [rows.map((r) => String(r[0])), String(tid), rows.map((r) => r[1])] });
    await client.query('commit');
    return result;
  };
  const storage = Object.fromEntries(STEPS.map((s) => [s, async () => undefined]));
  return { storage, db: { transaction, close: () => client.end() } };
}

async function child({ url, schema, seconds, extra, index }) {
  const { storage, db } = extra === 'raw' ? await rawDb(url, `${schema}_raw${index}`) : await openDb(url, schema, extra);
  const totals = Object.fromEntries(STEPS.map((s) => [s, 0]));
  for (const step of STEPS) {
    const original = storage[step].bind(storage);
    storage[step] = async (...args) => {
      const t0 = now();
      try {
        return await original(...args);
      } finally {
        totals[step] += now() - t0;
      }
    };
  }
  const data = Array.from({ length: 8 }, (_, i) => Buffer.alloc(200, i + 1));
  const oids = await db.transaction(async (tx) => {
    const made = [];
    for (let r = 0; r < 100; r++) made.push(await tx.create(data[r % 8]));
    return made;
  });
  const raw = new pg.Client({ connectionString: url });
  await raw.connect();
  process.send({ type: 'ready' });
  await new Promise((resolve) => process.once('message', resolve));
  const run = async (ms) => {
    let count = 0;
    const end = now() + ms;
    while (now() < end) {
      await db.transaction(async (tx) => {
        for (const [r, oid] of oids.entries()) await tx.write(oid, data[(r + count) % 8]);
      });
      count++;
    }
    return count;
  };
  await run(1000); // warm-up
  for (const s of STEPS) totals[s] = 0;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const count = await run(seconds * 1000);
  const ms = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  let rtt = 0;
  for (let i = 0; i < 50; i++) {
    const s = now();
    await raw.query('select 1');
    rtt += now() - s;
  }
  process.send({ type: 'done', count, ms, totals, cpuMs: (cpu.user + cpu.system) / 1000, rtt: rtt / 50 });
  // Connections stay open until the parent has read the server's CPU (a backend's counters go with it).
  await new Promise((resolve) => process.once('message', resolve));
  await raw.end();
  await db.close();
}

/** CPU ms of every process whose parent is `postmaster` (and the postmaster). */
function serverCpuMs(postmaster) {
  const tick = 100; // USER_HZ on Linux
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      if (Number(pid) === postmaster || ppid === postmaster) total += ((Number(fields[11]) + Number(fields[12])) * 1000) / tick;
    } catch {
      // gone
    }
  }
  return total;
}

async function parent() {
  const levels = (process.argv[2] ?? '1,4').split(',').map(Number);
  const seconds = Number(process.argv[3] ?? 4);
  const extra = process.argv[4] === 'raw' ? 'raw' : JSON.parse(process.argv[4] ?? '{}');
  const { startTestServer } = await import('@handlerton/postgres/testing');
  const started = await startTestServer({ durable: true });
  if (!('server' in started)) throw new Error(`no PostgreSQL server: ${started.skip}`);
  const { server } = started;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const { rows } = await admin.query(`select current_setting('data_directory') as d, current_setting('fsync') as f, current_setting('synchronous_commit') as s`);
  const postmaster = Number(readFileSync(`${rows[0].d}/postmaster.pid`, 'utf8').split('\n')[0]);
  console.log(`fsync=${rows[0].f} synchronous_commit=${rows[0].s}; options ${JSON.stringify(extra)}; loadavg before: ${load()}`);
  try {
    for (const n of levels) {
      const schema = server.newSchemaName(`measure_${n}`);
      if (extra !== 'raw') await (await openDb(server.url, schema, extra)).db.close();
      const script = fileURLToPath(import.meta.url);
      const kids = Array.from({ length: n }, (_, index) => fork(script, ['child', JSON.stringify({ url: server.url, schema, seconds, extra, index })]));
      const next = (k) => new Promise((resolve, reject) => { k.once('message', resolve); k.once('error', reject); });
      await Promise.all(kids.map(next));
      const done = kids.map(next);
      const wal0 = (await admin.query(`select wal_sync from pg_stat_wal`)).rows[0].wal_sync;
      const cpu0 = serverCpuMs(postmaster);
      kids.forEach((k) => k.send('go'));
      const results = await Promise.all(done);
      const serverCpu = serverCpuMs(postmaster) - cpu0;
      kids.forEach((k) => k.send('close'));
      await Promise.all(kids.map((k) => new Promise((resolve) => (k.exitCode !== null ? resolve() : k.once('exit', resolve)))));
      const wal1 = (await admin.query(`select wal_sync from pg_stat_wal`)).rows[0].wal_sync;
      const commits = results.reduce((a, r) => a + r.count, 0);
      const rate = results.reduce((a, r) => a + r.count / (r.ms / 1000), 0);
      const per = (key) => (results.reduce((a, r) => a + r.totals[key], 0) / commits).toFixed(2);
      const wall = results.reduce((a, r) => a + r.ms, 0) / commits;
      const stepSum = STEPS.reduce((a, s) => a + results.reduce((b, r) => b + r.totals[s], 0), 0) / commits;
      console.log(
        `${n} client(s): ${rate.toFixed(0)} txn/s total; per commit (ms, client view): wall ${wall.toFixed(2)} = ` +
          STEPS.map((s) => `${s} ${per(s)}`).join(', ') +
          `, framework/other ${(wall - stepSum).toFixed(2)}; client CPU ${(results.reduce((a, r) => a + r.cpuMs, 0) / commits).toFixed(2)}` +
          `, server CPU ${(serverCpu / commits).toFixed(2)}; WAL syncs/commit ${((Number(wal1) - Number(wal0)) / commits).toFixed(2)}` +
          `; select-1 round trip ${(results.reduce((a, r) => a + r.rtt, 0) / n).toFixed(3)}; loadavg ${load()}`,
      );
    }
  } finally {
    await admin.end();
    await server.stop();
  }
}

if (process.argv[2] === 'child') child(JSON.parse(process.argv[3])).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
else await parent();
