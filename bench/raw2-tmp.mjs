import Database from 'better-sqlite3';
import * as fs from 'node:fs';
const dir = fs.mkdtempSync('/tmp/sqlwal/raw-');
const db = new Database(dir + '/raw.db');
db.pragma('page_size = ' + (process.env.PAGE ?? 4096));
db.pragma('journal_mode = WAL'); db.pragma('wal_autocheckpoint = ' + (process.env.ACP ?? 1000)); db.pragma('synchronous = FULL');
db.exec(`create table txn (tid integer primary key, meta blob not null); create table rec (oid integer not null, tid integer not null, data blob not null, primary key (oid, tid)) without rowid;`);
const it = db.prepare('insert into txn (tid, meta) values (?, ?)'), ir = db.prepare('insert into rec (oid, tid, data) values (?, ?, ?)');
const data = Array.from({ length: 16 }, (_, i) => Buffer.alloc(200, i));
let tid = 1;
const commit = db.transaction(() => { it.run(tid, Buffer.from('{}')); for (let r = 0; r < 100; r++) ir.run(r + 1, tid, data[r % 16]); tid++; });
const t0 = performance.now(); let n = 0; let peak = 0;
while (performance.now() - t0 < Number(process.env.SECONDS ?? 5) * 1000) { commit(); n++; if (n % 20 === 0) peak = Math.max(peak, fs.statSync(dir + '/raw.db-wal').size); await new Promise(r => setImmediate(r)); }
console.log(JSON.stringify({ rawSameShapeTxnPerSec: +(n / ((performance.now() - t0) / 1000)).toFixed(0), peakWalMiB: peak / 1048576 }));
db.close(); fs.rmSync(dir, { recursive: true, force: true });
