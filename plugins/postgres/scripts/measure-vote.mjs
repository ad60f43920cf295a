#!/usr/bin/env node
/**
 * Server-side cost of the commit statements (not a test; run after `npx tsc -b`):
 *   node plugins/postgres/scripts/measure-vote.mjs [seconds=2] [rounds=3]
 * One client on a durable throwaway cluster: Storage contract commits of 100 × 200 B (tpcBegin,
 * storeMany, tpcVote, tpcFinish) timed per call, beside raw pg (BEGIN, one 100-row unnest insert,
 * COMMIT) on a table shaped like object_state, alternating in rounds. Extra connection-string
 * parameters (e.g. "options=-c plan_cache_mode=force_generic_plan") come from HANDLERTON_PG_URL_EXTRA.
 */
import * as fs from 'node:fs';
import { readFileSync } from 'node:fs';
import { NO_REFS, silentLogger, storageTransaction, systemClock } from '@handlerton/framework';
import { plugin } from '@handlerton/postgres';
import { startTestServer } from '@handlerton/postgres/testing';
import pg from 'pg';

const now = () => Number(process.hrtime.bigint()) / 1e6;
const seconds = Number(process.argv[2] ?? 2);
const rounds = Number(process.argv[3] ?? 3);
const { server } = await startTestServer({ durable: true });
const extra = process.env.HANDLERTON_PG_URL_EXTRA;
const url = extra ? `${server.url}&${extra}` : server.url;
const schema = server.newSchemaName('vote');
const storage = await plugin.createStorage(plugin.parseOptions({ location: url, options: { schema }, configPath: 'storage' }), { clock: systemClock, logger: silentLogger, fs });
const raw = new pg.Client({ connectionString: url });
await raw.connect();
await raw.query(`create schema rawv; create table rawv.obj (zoid bigint not null, tid bigint not null, deleted bool not null default false, data bytea, refs bytea, primary key (zoid, tid)); create index on rawv.obj (tid)`);
const data = Array.from({ length: 8 }, (_, i) => Buffer.alloc(200, i + 1));
const oids = [];
for (let i = 0; i < 100; i++) oids.push(await storage.newOid());
const serials = new Map(oids.map((o) => [o, 0n]));
const steps = { begin: 0, storeMany: 0, vote: 0, finish: 0 };
let n = 0;
const contract = async (i) => {
  const txn = storageTransaction();
  let t = now();
  await storage.tpcBegin(txn); steps.begin += now() - t; t = now();
  await storage.storeMany(oids.map((oid, r) => ({ oid, serial: serials.get(oid), record: { data: data[(r + i) % 8], refs: NO_REFS } })), txn); steps.storeMany += now() - t; t = now();
  await storage.tpcVote(txn); steps.vote += now() - t; t = now();
  const tid = await storage.tpcFinish(txn); steps.finish += now() - t;
  for (const oid of oids) serials.set(oid, tid);
  n++;
};
const rawSteps = { begin: 0, insert: 0, commit: 0 };
let rn = 0;
let rtid = 1;
const rawOids = oids.map(String);
const rawOnce = async (i) => {
  rtid++;
  let t = now();
  await raw.query('begin'); rawSteps.begin += now() - t; t = now();
  await raw.query({ name: 'ins', text: `insert into rawv.obj (zoid, tid, deleted, data, refs) select z, $2, false, d, '\\x'::bytea from unnest($1::int8[], $3::bytea[]) as u(z, d)`, values: [rawOids, String(rtid), rawOids.map((_, r) => data[(r + i) % 8])] }); rawSteps.insert += now() - t; t = now();
  await raw.query('commit'); rawSteps.commit += now() - t;
  rn++;
};
const loop = async (fn, ms) => { const end = now() + ms; let i = 0; while (now() < end) await fn(i++); };
await loop(contract, 500); await loop(rawOnce, 500);
for (const k in steps) steps[k] = 0; for (const k in rawSteps) rawSteps[k] = 0; n = 0; rn = 0;
let cms = 0, rms = 0;
for (let r = 0; r < rounds; r++) {
  let t = now(); await loop(contract, (seconds * 1000) / rounds); cms += now() - t;
  t = now(); await loop(rawOnce, (seconds * 1000) / rounds); rms += now() - t;
}
const fmt = (o, c) => Object.entries(o).map(([k, v]) => `${k} ${(v / c).toFixed(3)}`).join(', ');
console.log(`extra=${extra ?? ''} load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
console.log(`contract ${(n / (cms / 1000)).toFixed(0)} txn/s: ${fmt(steps, n)} ms`);
console.log(`raw      ${(rn / (rms / 1000)).toFixed(0)} txn/s: ${fmt(rawSteps, rn)} ms; ratio ${((n / cms) / (rn / rms)).toFixed(2)}`);
await storage.close(); await raw.end(); await server.stop();
