// Database-API commit loop on SQLite: 100 × 200 B writes to existing objects per transaction.
import { createDatabase, silentLogger, systemClock } from '@handlerton/framework';
import { plugin } from '@handlerton/sqlite-blobs';
import * as fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
const dir = fs.mkdtempSync(process.env.DIR ?? '/tmp/sqlwal/db-');
const ctx = { clock: systemClock, logger: silentLogger, fs };
const opts = plugin.parseOptions({ location: dir + '/app.db', synchronous: 'full' });
const storage = await plugin.createStorage(opts, ctx);
const blobs = await plugin.createBlobHandlerton(opts, ctx);
const db = await createDatabase({ storage, blobs });
const data = Array.from({ length: 16 }, (_, i) => Buffer.alloc(200, i));
const oids = await db.transaction(async (tx) => { const o = []; for (let i = 0; i < 100; i++) o.push(await tx.create(data[0])); return o; });
const seconds = Number(process.env.SECONDS ?? 5);
let peak = 0;
const walFile = dir + '/app.db-wal';
const h = monitorEventLoopDelay({ resolution: 10 });
let n = 0;
const t0 = performance.now();
h.enable();
while (performance.now() - t0 < seconds * 1000) {
  await db.transaction(async (tx) => { for (const [r, oid] of oids.entries()) await tx.write(oid, data[(r + n) % 16]); });
  n++;
  if (n % 50 === 0) { try { peak = Math.max(peak, fs.statSync(walFile).size); } catch {} }
}
h.disable();
const el = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ txnPerSec: +(n / el).toFixed(0), n, peakWalMiB: +(peak / 1048576).toFixed(2), dbMiB: +(fs.statSync(dir + '/app.db').size / 1048576).toFixed(2), loopP99ms: h.percentile(99) / 1e6 }));
await db.close();
fs.rmSync(dir, { recursive: true, force: true });
