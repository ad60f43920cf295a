// CPU time per commit phase (100 records of 200 B per transaction, syncMode none).
// Usage: node scripts/commit-cpu.mjs [txns=1500]
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStorage2 } from '../dist/src/storage/filestorage2.js';
import { parseFileStorage2Options } from '../dist/src/filestorage2-config.js';

const ctx = { clock: { now: () => Date.now() }, logger: { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } }, fs };
const dir = mkdtempSync(join(tmpdir(), 'fs2-cpu-'));
const s = await FileStorage2.open(parseFileStorage2Options(dir, { syncMode: 'none' }), ctx);
const data = Buffer.alloc(200, 97);
const NO = { oids: [], blobs: [] };
const txns = Number(process.argv[2] ?? 1500);
let next = 1n;
const t = { begin: 0, store: 0, vote: 0, finish: 0 };
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
for (let j = 0; j < txns; j++) {
  const txn = { meta: { user: '', description: '', extension: {} } };
  const warm = j >= txns / 3;
  let a = cpu(); await s.tpcBegin(txn); let b = cpu(); if (warm) t.begin += b - a;
  a = cpu(); for (let i = 0; i < 100; i++) await s.store(next++, 0n, { data, refs: NO }, txn); b = cpu(); if (warm) t.store += b - a;
  a = cpu(); await s.tpcVote(txn); b = cpu(); if (warm) t.vote += b - a;
  a = cpu(); await s.tpcFinish(txn); b = cpu(); if (warm) t.finish += b - a;
}
const n = txns - Math.ceil(txns / 3);
for (const k in t) t[k] = +(t[k] / n).toFixed(1);
console.log(JSON.stringify({ cpuMicrosPerTxn: t, total: +(t.begin + t.store + t.vote + t.finish).toFixed(1) }));
await s.close();
rmSync(dir, { recursive: true, force: true });
