// Measures kysely execute() against cached better-sqlite3 prepared statements on the engine's hot paths.
// usage: node scripts/measure-kysely.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStorage } from '../dist/src/index.js';
import { storageTransaction, NO_REFS } from '@handlerton/framework';

const dir = mkdtempSync(join(tmpdir(), 'kysely-'));
const storage = await SqliteStorage.open({ location: join(dir, 'db'), synchronous: 'normal', chunkSize: 262144, busyTimeoutMs: 100 });
const conn = storage.connection;
const k = conn.kysely;
const N = 20000;
const data = new Uint8Array(200).fill(7);
// seed N objects
const txn = storageTransaction();
await storage.tpcBegin(txn);
for (let i = 1; i <= N; i++) await storage.store(BigInt(i), 0n, { data, refs: NO_REFS }, txn);
await storage.tpcVote(txn);
const tid = await storage.tpcFinish(txn);

const time = async (label, fn) => {
  const t0 = performance.now();
  await fn();
  const us = ((performance.now() - t0) * 1000) / N;
  console.log(`${label.padEnd(48)} ${us.toFixed(2)} us/op`);
  return us;
};
// Since migration 0003 a load is the current pointer, then the revision it names (keyed (tid, oid)).
const raw = conn.db.prepare(
  'select r."tid", r."deleted", r."data", r."refs" from "object_current" c join "revision" r on r."tid" = c."tid" and r."oid" = c."oid" where c."oid" = ?',
);
const statements = storage['sql'];
const pq = { get: ({ oid }) => { const c = statements.currentSerial.get({ oid }); return c && statements.serial.get({ oid, tid: c.tid }); } };
for (let round = 1; round <= 3; round++) {
  console.log(`round ${round}`);
  await time('load: raw prepared (cached)', async () => { for (let i = 1; i <= N; i++) raw.get(BigInt(i)); });
  await time('load: kysely-built PreparedQuery.get (pointer + row)', async () => { for (let i = 1; i <= N; i++) pq.get({ oid: BigInt(i) }); });
  await time('load: engine storage.load()', async () => { for (let i = 1; i <= N; i++) await storage.load(BigInt(i)); });
  await time('load: kysely execute()', async () => {
    for (let i = 1; i <= N; i++)
      await k.selectFrom('object_current as c').innerJoin('revision as r', (j) => j.onRef('r.tid', '=', 'c.tid').onRef('r.oid', '=', 'c.oid'))
        .select(['r.tid', 'r.deleted', 'r.data', 'r.refs']).where('c.oid', '=', BigInt(i)).executeTakeFirst();
  });
}
// Bare revision rows (no checksums, no current pointer): the cost of the insert alone; the file is thrown away.
const rawIns = conn.db.prepare('insert into "revision" ("oid", "tid", "prev_tid", "deleted", "data", "refs") values (?, ?, ?, ?, ?, ?)');
let base = 1_000_000;
await time('insert revision: raw prepared (one txn)', async () => {
  conn.db.transaction(() => { for (let i = 0; i < N; i++) rawIns.run(BigInt(base + i), tid, null, 0, data, null); })();
});
base += N;
await time('insert revision: kysely execute() (one txn)', async () => {
  await k.transaction().execute(async (trx) => {
    for (let i = 0; i < N; i++)
      await trx.insertInto('revision').values({ oid: BigInt(base + i), tid, prev_tid: null, deleted: 0, data, refs: null }).execute();
  });
});
base += N;
await time('store+commit path: engine (N stores, 1 finish)', async () => {
  const t = storageTransaction();
  await storage.tpcBegin(t);
  for (let i = 0; i < N; i++) await storage.store(BigInt(base + i), 0n, { data, refs: NO_REFS }, t);
  await storage.tpcVote(t);
  await storage.tpcFinish(t);
});
await storage.close();
rmSync(dir, { recursive: true, force: true });
