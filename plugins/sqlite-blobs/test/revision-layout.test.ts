/** The records layout of migration 0003: revisions keyed by (tid, oid), object_current, prev_tid chains. */
import test from 'ava';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { CorruptionError, POSKeyError, storageTransaction } from '@handlerton/framework';
import { acquireConnection, releaseConnection, roleFile } from '../src/connection.js';
import { MIGRATION_NAMES, SqliteStorage } from '../src/index.js';
import { encodeOidList } from '../src/oid-list.js';
import { recordChecksum, txnChecksum } from '../src/record-check.js';
import { commit, openStorage, optionsIn, rec, tempDir, text } from './helpers.js';

test('migration 0003 moves the revisions of an older file: load, loadBefore, history, iterator and pack see them', async (t) => {
  const options = optionsIn(await tempDir(t));
  const old = await acquireConnection(options.location, { ...options, migrateTo: MIGRATION_NAMES.records[1] }, 'records');
  const insertTxn = old.db.prepare('insert into txn (tid, user, description, extension, status, oids, crc) values (?, ?, ?, ?, ?, ?, ?)');
  const insertRev = old.db.prepare('insert into object_revision (oid, tid, prev_tid, deleted, data, refs, crc) values (?, ?, ?, ?, ?, null, ?)');
  const revisions: [bigint, bigint, bigint | null, number, string | null][] = [
    [1n, 10n, null, 0, 'one-a'],
    [2n, 10n, null, 0, 'two-a'],
    [1n, 20n, 10n, 0, 'one-b'],
    [1n, 30n, 20n, 0, 'one-c'],
    [2n, 30n, 10n, 1, null],
  ];
  for (const tid of [10n, 20n, 30n]) {
    const oids = encodeOidList(revisions.filter((r) => r[1] === tid).map((r) => r[0]));
    insertTxn.run(tid, 'u', `t${tid}`, '{}', ' ', oids, txnChecksum(tid, 'u', `t${tid}`, '{}', oids));
  }
  for (const [oid, tid, prev, deleted, value] of revisions) {
    const data = value === null ? null : Buffer.from(value);
    insertRev.run(oid, tid, prev, deleted, data, recordChecksum(oid, tid, deleted, data, null));
  }
  await releaseConnection(old);

  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  t.is(text((await storage.load(1n)).data), 'one-c');
  await t.throwsAsync(storage.load(2n), { instanceOf: POSKeyError });
  const before = await storage.loadBefore(1n, 30n);
  t.is(text(before!.data), 'one-b');
  t.is(before!.tid, 20n);
  t.is(before!.nextTid, 30n);
  t.is((await storage.loadBefore(1n, 10n)), null, 'nothing before the first revision');
  t.is(text((await storage.loadBefore(2n, 30n))!.data), 'two-a');
  t.deepEqual((await storage.history(1n)).map((h) => [h.tid, h.description]), [[30n, 't30'], [20n, 't20'], [10n, 't10']]);
  t.deepEqual((await storage.history(2n)).map((h) => h.deleted), [true, false]);
  const iterated: [bigint, number][] = [];
  for await (const txn of storage.iterator()) iterated.push([txn.tid, txn.records.length]);
  t.deepEqual(iterated, [[10n, 2], [20n, 1], [30n, 2]]);
  // A new commit continues the chain from the migrated current revision.
  const tid = await commit(storage, [[1n, 30n, 'one-d']]);
  t.is((await storage.loadBefore(1n, tid))!.tid, 30n);

  const result = await storage.pack(tid);
  t.is(result.removedRevisions, 5, 'three older revisions of oid 1 and both of the deleted oid 2');
  t.is(result.removedObjects, 1);
  t.is(text((await storage.load(1n)).data), 'one-d');
  t.is(await storage.loadBefore(1n, tid), null, 'the chain ends at the kept revision');
  t.deepEqual((await storage.history(1n)).map((h) => h.tid), [tid]);
  await t.throwsAsync(storage.history(2n), { instanceOf: POSKeyError });
});

test('a transaction overwriting 100 existing objects writes a few WAL pages, not one per object', async (t) => {
  const { storage, options } = await openStorage(t);
  const oids = Array.from({ length: 100 }, (_, i) => BigInt(i + 1));
  const serials = new Map<bigint, bigint>(oids.map((oid) => [oid, 0n]));
  const value = 'x'.repeat(200);
  const overwrite = async (): Promise<void> => {
    const txn = storageTransaction();
    await storage.tpcBegin(txn);
    for (const oid of oids) await storage.store(oid, serials.get(oid)!, rec(value), txn);
    await storage.tpcVote(txn);
    const tid = await storage.tpcFinish(txn);
    for (const oid of oids) serials.set(oid, tid);
  };
  // 60 revisions per object: keyed by (oid, tid) each object's rows would fill pages of their own.
  for (let i = 0; i < 60; i += 1) await overwrite();
  const db = storage.connection.db;
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('wal_checkpoint(TRUNCATE)');
  for (let i = 0; i < 10; i += 1) await overwrite();
  const pagesPerCommit = statSync(`${roleFile(options.location, 'records')}-wal`).size / 10 / (4096 + 24);
  db.pragma('wal_autocheckpoint = 1024');
  // 20 KB of records is 5 pages of rows; the old layout wrote over 100 pages per such commit.
  t.true(pagesPerCommit < 30, `${pagesPerCommit.toFixed(1)} WAL pages per commit`);
});

test('a current pointer naming a missing revision is CorruptionError, not a missing object', async (t) => {
  const options = optionsIn(await tempDir(t));
  const storage = await SqliteStorage.open(options);
  const tid = await commit(storage, [[1n, 0n, 'a']]);
  await commit(storage, [[1n, tid, 'b']]);
  await storage.close();
  const raw = new Database(roleFile(options.location, 'records'));
  raw.prepare('update object_current set tid = tid + 1 where oid = 1').run();
  raw.close();
  const reopened = await SqliteStorage.open(options);
  t.teardown(() => reopened.close());
  await t.throwsAsync(reopened.load(1n), { instanceOf: CorruptionError });
  await t.throwsAsync(reopened.loadBefore(1n, (1n << 64n) - 1n), { instanceOf: CorruptionError });
  await t.throwsAsync(reopened.loadBefore(1n, tid), { instanceOf: CorruptionError }, 'a walk starting at the pointer checks it too');
  await t.throwsAsync(reopened.history(1n), { instanceOf: CorruptionError });
});
