// Small commits: T transactions of 100 records x 200 bytes, engine vs raw better-sqlite3 prepared
// statements doing the same inserts in one transaction each (same pragmas), interleaved rounds.
// usage: node scripts/measure-commits.mjs [txns] [full|normal]
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageTransaction, NO_REFS } from '@handlerton/framework';
import { SqliteStorage } from '../dist/src/index.js';

const T = Number(process.argv[2] ?? 200);
const sync = process.argv[3] ?? 'full';
const data = new Uint8Array(200).fill(1);

async function engineRun(dir) {
  const s = await SqliteStorage.open({ location: join(dir, 'engine.db'), synchronous: sync, chunkSize: 262144, busyTimeoutMs: 100 });
  if (process.env.NO_WORKER) { await s.connection['checkpointer'].stop(); s.connection.db.pragma('wal_autocheckpoint = 1000'); }
  const serials = new Map();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let t = 0; t < T; t++) {
    const txn = storageTransaction();
    await s.tpcBegin(txn);
    for (let i = 0; i < 100; i++) {
      const oid = BigInt(1 + ((t * 100 + i) % 5000));
      await s.store(oid, serials.get(oid) ?? 0n, { data, refs: NO_REFS }, txn);
    }
    await s.tpcVote(txn);
    const tid = await s.tpcFinish(txn);
    for (let i = 0; i < 100; i++) serials.set(BigInt(1 + ((t * 100 + i) % 5000)), tid);
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  await s.close();
  return { ms, cpu: (cpu.user + cpu.system) / 1000 };
}

function rawRun(dir) {
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('page_size = 65536');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`);
  db.exec('create table rec (oid integer not null, tid integer not null, data blob, primary key (oid, tid)) without rowid');
  const ins = db.prepare('insert into rec (oid, tid, data) values (?, ?, ?)');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let t = 0; t < T; t++) {
    db.transaction(() => {
      for (let i = 0; i < 100; i++) ins.run(1 + ((t * 100 + i) % 5000), t + 1, data);
    }).immediate();
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  db.close();
  return { ms, cpu: (cpu.user + cpu.system) / 1000 };
}

for (let round = 1; round <= 3; round++) {
  const dir = mkdtempSync(join(tmpdir(), 'commits-'));
  const raw = rawRun(dir);
  const engine = await engineRun(dir);
  console.log(
    `round ${round} synchronous=${sync}: wall raw ${(raw.ms / T).toFixed(2)} / engine ${(engine.ms / T).toFixed(2)} ms/txn (engine ${((raw.ms / engine.ms) * 100).toFixed(0)}% of raw throughput); ` +
      `cpu raw ${(raw.cpu / T).toFixed(2)} / engine ${(engine.cpu / T).toFixed(2)} ms/txn (${((raw.cpu / engine.cpu) * 100).toFixed(0)}%)`,
  );
  rmSync(dir, { recursive: true, force: true });
}
