// Where the time of a small commit goes (begin incl. WAL back-pressure, stores, vote+finish), wall and CPU.
// usage: node scripts/commit-phases.mjs [txns] [full|normal]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageTransaction, NO_REFS } from '@handlerton/framework';
import { SqliteStorage } from '../dist/src/index.js';
const T = Number(process.argv[2] ?? 200);
const sync = process.argv[3] ?? 'full';
const dir = mkdtempSync(join(tmpdir(), 'phases-'));
const s = await SqliteStorage.open({ location: join(dir, 'e.db'), synchronous: sync, chunkSize: 262144, busyTimeoutMs: 100 });
if (process.env.CACHE) s.connection.db.pragma('cache_size = ' + process.env.CACHE);
const data = new Uint8Array(200).fill(1);
const serials = new Map();
const t = { begin: 0, store: 0, finish: 0 };
const cpu0 = process.cpuUsage();
const all0 = performance.now();
for (let n = 0; n < T; n++) {
  const a = performance.now();
  const txn = storageTransaction();
  await s.tpcBegin(txn);
  const b = performance.now();
  for (let i = 0; i < 100; i++) { const oid = BigInt(1 + ((n * 100 + i) % 5000)); await s.store(oid, serials.get(oid) ?? 0n, { data, refs: NO_REFS }, txn); }
  const c = performance.now();
  await s.tpcVote(txn);
  const tid = await s.tpcFinish(txn);
  t.begin += b - a; t.store += c - b; t.finish += performance.now() - c;
  for (let i = 0; i < 100; i++) serials.set(BigInt(1 + ((n * 100 + i) % 5000)), tid);
}
const total = performance.now() - all0;
const cpu = process.cpuUsage(cpu0);
console.log(`synchronous=${sync}: ${(total / T).toFixed(2)} ms/txn = begin ${(t.begin / T).toFixed(2)} + stores ${(t.store / T).toFixed(2)} + vote/finish ${(t.finish / T).toFixed(2)}; cpu ${((cpu.user + cpu.system) / 1000 / T).toFixed(2)} ms/txn (all threads)`);
await s.close();
rmSync(dir, { recursive: true, force: true });
