import Database from 'better-sqlite3';
import * as fs from 'node:fs';
const dir = fs.mkdtempSync('/tmp/sqlwal/raw-');
const db = new Database(dir + '/raw.db');
db.pragma('journal_mode = WAL'); db.pragma('synchronous = FULL');
db.exec(`create table txn (tid integer primary key, meta blob not null); create table rev (tid integer not null, oid integer not null, prev integer, data blob not null, primary key (tid, oid)) without rowid;
create table cur (oid integer primary key, tid integer not null, deleted integer not null) without rowid;`);
const it = db.prepare('insert into txn (tid, meta) values (?, ?)'), ir = db.prepare('insert into rev (tid, oid, prev, data) values (?, ?, ?, ?)');
const uc = db.prepare('insert into cur (oid, tid, deleted) values (?, ?, 0) on conflict(oid) do update set tid = excluded.tid, deleted = excluded.deleted');
const data = Array.from({ length: 16 }, (_, i) => Buffer.alloc(200, i));
let tid = 1;
const commit = db.transaction(() => { it.run(tid, Buffer.from('{}')); for (let r = 0; r < 100; r++) { ir.run(tid, r + 1, tid - 1, data[r % 16]); uc.run(r + 1, tid); } tid++; });
const t0 = performance.now(); let n = 0; let peak = 0;
while (performance.now() - t0 < Number(process.env.SECONDS ?? 5) * 1000) { commit(); n++; if (n % 20 === 0) peak = Math.max(peak, fs.statSync(dir + '/raw.db-wal').size); await new Promise(r => setImmediate(r)); }
console.log(JSON.stringify({ rawByTidTxnPerSec: +(n / ((performance.now() - t0) / 1000)).toFixed(0), peakWalMiB: peak / 1048576 }));
db.close(); fs.rmSync(dir, { recursive: true, force: true });
