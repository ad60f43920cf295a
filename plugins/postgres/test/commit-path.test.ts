/**
 * The commit path: stores are buffered (no round trip) and their serials are checked by the vote's
 * one statement under the commit lock; `releaseBeforeFlush` commits asynchronously and flushes the WAL
 * after the lock is gone, acknowledging the writer only after the flush.
 */
import * as fs from 'node:fs';
import test from 'ava';
import pg from 'pg';
import {
  ConflictError,
  InvalidConfigError,
  NO_REFS,
  POSKeyError,
  silentLogger,
  storageTransaction,
  systemClock,
  type Storage,
  type StoreWrite,
  type Tid,
} from '@handlerton/framework';
import { parsePgOptions, plugin } from '../src/index.js';
import { startTestServer, startTestServerOrSkip, type TestServer } from '../src/testing/index.js';

const started = await startTestServerOrSkip();
const server: TestServer | undefined = 'server' in started ? started.server : undefined;
test.after.always('stop the PostgreSQL test server', async () => {
  await server?.stop();
});
const pgTest = server === undefined ? test.skip : test.serial;
if (server === undefined) test.skip('skip' in started ? started.skip : 'no server', (t) => t.pass());

const context = { clock: systemClock, logger: silentLogger, fs };

async function openClient(url: string, schema: string, extra: Record<string, unknown> = {}): Promise<Storage> {
  const options = plugin.parseOptions({ location: url, options: { schema, poolSize: 2, ...extra }, configPath: 'storage' });
  return plugin.createStorage!(options, context);
}

const rec = (byte: number) => ({ data: new Uint8Array([byte]), refs: NO_REFS });

/** Commits `writes` in one transaction; rejects with the vote's error after aborting. */
async function commitMany(storage: Storage, writes: StoreWrite[]): Promise<Tid> {
  const txn = storageTransaction();
  await storage.tpcBegin(txn);
  try {
    await storage.storeMany!(writes, txn);
    await storage.tpcVote(txn);
  } catch (error) {
    await storage.tpcAbort(txn);
    throw error;
  }
  return storage.tpcFinish(txn);
}

/** Runs `fn` on a fresh schema of `url` with one client, dropping the schema afterwards. */
async function withClient(fn: (storage: Storage, schema: string) => Promise<void>, extra: Record<string, unknown> = {}): Promise<void> {
  const schema = server!.newSchemaName('commitpath');
  const storage = await openClient(server!.url, schema, extra);
  try {
    await fn(storage, schema);
  } finally {
    await storage.close();
    await server!.dropSchema(schema);
  }
}

test('options: releaseBeforeFlush is false by default and must be a boolean', (t) => {
  const parse = (options: Record<string, unknown>) => parsePgOptions({ location: 'postgresql://h/d', options, configPath: 'storage' });
  t.false(parse({}).releaseBeforeFlush);
  t.true(parse({ releaseBeforeFlush: true }).releaseBeforeFlush);
  t.regex(t.throws(() => parse({ releaseBeforeFlush: 'yes' }), { instanceOf: InvalidConfigError })!.message, /storage\.options\.releaseBeforeFlush/);
});

pgTest('a stale serial in a batch is buffered by storeMany and raised at vote, naming the first failing write; nothing of the batch is written', async (t) => {
  await withClient(async (storage, schema) => {
    const t1 = await commitMany(storage, [1n, 2n, 3n].map((oid) => ({ oid, serial: 0n, record: rec(1) })));
    const t2 = await commitMany(storage, [{ oid: 2n, serial: t1, record: rec(2) }, { oid: 3n, serial: t1, record: rec(2) }]);
    const txn = storageTransaction();
    await storage.tpcBegin(txn);
    // oid 2 and 3 are stale (t1, committed t2): storeMany itself does not go to the server.
    await storage.storeMany!(
      [
        { oid: 1n, serial: t1, record: rec(3) },
        { oid: 2n, serial: t1, record: rec(3) },
        { oid: 3n, serial: t1, record: rec(3) },
        { oid: 500n, serial: 0n, record: rec(3) },
      ],
      txn,
    );
    const error = await t.throwsAsync(storage.tpcVote(txn), { instanceOf: ConflictError });
    t.is(error!.oid, 2n, 'the first failing write in call order');
    t.is(error!.committedSerial, t2);
    t.is(error!.expectedSerial, t1);
    await storage.tpcAbort(txn);
    t.is((await storage.load(1n)).tid, t1, 'the passing write of the failed batch was not committed');
    await t.throwsAsync(storage.load(500n), { instanceOf: POSKeyError });
    const check = new pg.Client({ connectionString: server!.url });
    await check.connect();
    try {
      const txns = await check.query(`select count(*)::int as n from ${schema}.txn`);
      t.is(txns.rows[0].n, 2, 'no txn row for the failed vote');
      const seq = await check.query(`select last_value::text as v from ${schema}.oid_seq`);
      t.true(BigInt(seq.rows[0].v) < 500n, 'the oid sequence was not raised by the failed vote');
    } finally {
      await check.end();
    }
    // The same writes with current serials commit, and raise the sequence.
    const t3 = await commitMany(storage, [{ oid: 2n, serial: t2, record: rec(4) }, { oid: 500n, serial: 0n, record: rec(4) }]);
    t.is((await storage.load(500n)).tid, t3);
    t.true((await storage.newOid()) > 500n);
  });
});

pgTest('vote checks: every write of an oid stored twice is checked; new objects; deletes; recreating a deleted object; serials beyond bigint', async (t) => {
  await withClient(async (storage) => {
    const t1 = await commitMany(storage, [{ oid: 1n, serial: 0n, record: rec(1) }, { oid: 2n, serial: 0n, record: rec(1) }]);
    // A stale write followed by a good one of the same oid: still a conflict (each write is checked, as separate stores would be).
    const twice = await t.throwsAsync(commitMany(storage, [{ oid: 1n, serial: 0n, record: rec(2) }, { oid: 1n, serial: t1, record: rec(2) }]), { instanceOf: ConflictError });
    t.is(twice!.expectedSerial, 0n);
    t.is(twice!.committedSerial, t1);
    // Serial 0 for an existing object, a non-zero serial for a missing one, a serial above the bigint range.
    t.is((await t.throwsAsync(commitMany(storage, [{ oid: 2n, serial: 0n, record: rec(2) }]), { instanceOf: ConflictError }))!.committedSerial, t1);
    t.is((await t.throwsAsync(commitMany(storage, [{ oid: 9n, serial: t1, record: rec(2) }]), { instanceOf: ConflictError }))!.committedSerial, undefined);
    const huge = await t.throwsAsync(commitMany(storage, [{ oid: 1n, serial: 2n ** 64n - 1n, record: rec(2) }]), { instanceOf: ConflictError });
    t.is(huge!.expectedSerial, 2n ** 64n - 1n);
    // Deletes: a stale serial is a conflict, a missing object a POSKeyError, both raised at vote.
    const staleDelete = await t.throwsAsync(commitMany(storage, [{ oid: 1n, serial: 1n, record: null }]), { instanceOf: ConflictError });
    t.regex(staleDelete!.message, /delete/);
    await t.throwsAsync(commitMany(storage, [{ oid: 77n, serial: 0n, record: null }]), { instanceOf: POSKeyError });
    const t2 = await commitMany(storage, [{ oid: 1n, serial: t1, record: null }]);
    await t.throwsAsync(commitMany(storage, [{ oid: 1n, serial: t2, record: null }]), { instanceOf: POSKeyError }, 'deleting a delete marker');
    await t.throwsAsync(commitMany(storage, [{ oid: 1n, serial: t1, record: rec(3) }]), { instanceOf: ConflictError }, 'the serial from before the delete');
    // Recreated with the marker's tid, then again (after another delete) with 0.
    const t3 = await commitMany(storage, [{ oid: 1n, serial: t2, record: rec(3) }]);
    const t4 = await commitMany(storage, [{ oid: 1n, serial: t3, record: null }]);
    const t5 = await commitMany(storage, [{ oid: 1n, serial: 0n, record: rec(4) }]);
    t.true(t5 > t4);
    t.is((await storage.load(1n)).data[0], 4);
  });
});

pgTest('a transaction of more than one insert batch (1200 writes) commits whole, and a conflict in its last write inserts nothing', async (t) => {
  await withClient(async (storage) => {
    const oids = Array.from({ length: 1200 }, (_, i) => BigInt(i + 1));
    const t1 = await commitMany(storage, oids.map((oid) => ({ oid, serial: 0n, record: rec(1) })));
    const writes = oids.map((oid) => ({ oid, serial: t1, record: rec(2) }));
    writes[1199] = { oid: 1200n, serial: 0n, record: rec(2) };
    t.is((await t.throwsAsync(commitMany(storage, writes), { instanceOf: ConflictError }))!.oid, 1200n);
    t.is((await storage.load(1n)).tid, t1);
    t.is((await storage.load(700n)).tid, t1, 'no later batch was inserted either');
    writes[1199] = { oid: 1200n, serial: t1, record: rec(2) };
    const t2 = await commitMany(storage, writes);
    for (const oid of [1n, 600n, 1200n]) t.is((await storage.load(oid)).tid, t2);
  });
});

pgTest('releaseBeforeFlush on a durable server: the writer returns after the WAL is flushed past its commit; other clients see it; conflicts and tid order hold', async (t) => {
  const durable = await startTestServer({ durable: true });
  if (!('server' in durable)) return t.fail(durable.skip);
  const schema = durable.server.newSchemaName('early');
  const a = await openClient(durable.server.url, schema, { releaseBeforeFlush: true });
  const b = await openClient(durable.server.url, schema);
  const check = new pg.Client({ connectionString: durable.server.url });
  await check.connect();
  try {
    let last = 0n;
    for (let i = 0; i < 20; i += 1) {
      const tid = await commitMany(a, [{ oid: 1n, serial: last, record: rec(i) }]);
      // Nothing else writes on this private cluster: the WAL inserted so far ends at (or just after) our commit record.
      const { rows } = await check.query<{ ok: boolean }>(`select pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn() as ok`);
      t.true(rows[0]!.ok, `commit ${i}: the WAL was flushed before tpcFinish returned`);
      t.true(tid > last);
      last = tid;
    }
    t.is((await b.load(1n)).tid, last, 'the other client reads the last commit');
    const other = await commitMany(b, [{ oid: 1n, serial: last, record: rec(99) }]);
    t.true(other > last);
    await t.throwsAsync(commitMany(a, [{ oid: 1n, serial: last, record: rec(100) }]), { instanceOf: ConflictError });
    t.true((await commitMany(a, [{ oid: 1n, serial: other, record: rec(101) }])) > other);
  } finally {
    await check.end();
    await Promise.all([a.close(), b.close()]);
    await durable.server.stop();
  }
  return undefined;
});

pgTest('sync fetches other clients\' changes for the next invalidationsSince (answered from it when it covers `since`; queried otherwise); own commits are left out', async (t) => {
  const schema = server!.newSchemaName('syncpoll');
  const a = await openClient(server!.url, schema);
  const b = await openClient(server!.url, schema);
  try {
    const t1 = await commitMany(a, [{ oid: 1n, serial: 0n, record: rec(1) }]);
    t.is(await b.sync!(), t1);
    const t2 = await commitMany(a, [{ oid: 2n, serial: 0n, record: rec(1) }]);
    // Answered from the sync: up to t1 only (a's commit after the sync is not in it), oid 1.
    t.deepEqual(await b.invalidationsSince!(0n), { tid: t1, oids: [1n] });
    // The prefetched answer is used once: the next poll queries and finds t2.
    t.deepEqual(await b.invalidationsSince!(t1), { tid: t2, oids: [2n] });
    const t3 = await commitMany(b, [{ oid: 3n, serial: 0n, record: rec(1) }]);
    t.is(await b.sync!(), t3);
    t.deepEqual(await b.invalidationsSince!(t2), { tid: t3, oids: [] }, 'b\'s own commit is left out');
    // A sync that found nothing new, then a poll from further back than the sync covered: queried.
    t.is(await b.sync!(), t3);
    t.deepEqual(await b.invalidationsSince!(t1), { tid: t3, oids: [2n] });
    // A later sync after a's next commit: the poll from the synced tid gets exactly it.
    const t4 = await commitMany(a, [{ oid: 1n, serial: t1, record: rec(2) }]);
    t.is(await b.sync!(), t4);
    t.deepEqual(await b.invalidationsSince!(t3), { tid: t4, oids: [1n] });
  } finally {
    await Promise.all([a.close(), b.close()]);
    await server!.dropSchema(schema);
  }
});
