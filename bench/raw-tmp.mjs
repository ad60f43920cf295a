import Database from 'better-sqlite3';
import * as fs from 'node:fs';
const dir = fs.mkdtempSync('/tmp/sqlwal/raw-');
const db = new Database(dir + '/raw.db');
db.pragma('journal_mode = WAL'); db.pragma('synchronous = FULL');
db.exec(`create table txn (tid integer primary key, meta blob not null); create table rec (oid integer not null, tid integer not null, data blob not null, primary key (oid, tid));`);
const it = db.prepare('insert into txn (tid, meta) values (?, ?)'), ir = db.prepare('insert into rec (oid, tid, data) values (?, ?, ?)');
const data = Array.from({ length: 16 }, (_, i) => Buffer.alloc(200, i));
let oid = 1, tid = 1;
const commit = db.transaction(() => { it.run(tid, Buffer.from('{}')); for (let r = 0; r < 100; r++) ir.run(oid++, tid, data[r % 16]); tid++; });
const t0 = performance.now(); let n = 0;
while (performance.now() - t0 < Number(process.env.SECONDS ?? 5) * 1000) { commit(); n++; await new Promise(r => setImmediate(r)); }
console.log(JSON.stringify({ rawTxnPerSec: +(n / ((performance.now() - t0) / 1000)).toFixed(0), walMiB: fs.statSync(dir + '/raw.db-wal').size / 1048576 }));
db.close(); fs.rmSync(dir, { recursive: true, force: true });
