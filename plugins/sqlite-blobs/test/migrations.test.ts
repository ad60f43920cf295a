import test from 'ava';
import Database from 'better-sqlite3';
import { acquireConnection, releaseConnection } from '../src/connection.js';
import { MIGRATION_NAMES, SqliteBlobs, SqliteStorage } from '../src/index.js';
import { commit, optionsIn, tempDir, text } from './helpers.js';

test('a database at an older schema version is upgraded on open and keeps its data', async (t) => {
  const options = optionsIn(await tempDir(t));
  const old = await acquireConnection(options.location, { ...options, migrateTo: MIGRATION_NAMES[0] });
  const tables = (db: Database.Database): string[] =>
    (db.prepare("select name from sqlite_master where type = 'table' order by name").all() as { name: string }[]).map((r) => r.name);
  t.false(tables(old.db).includes('chunk'));
  old.db.prepare("insert into txn (tid, user, description, extension, status, oids) values (100, 'u', 'd', '{}', ' ', x'0000000000000001')").run();
  old.db.prepare("insert into object_revision (oid, tid, prev_tid, deleted, data, refs) values (1, 100, null, 0, x'6f6c64', null)").run();
  const id = old.databaseId;
  await releaseConnection(old);

  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  t.is(storage.databaseId, id);
  t.is(text((await storage.load(1n)).data), 'old');
  t.true(tables(storage.connection.db).includes('chunk'));
  const applied = storage.connection.db.prepare('select name from kysely_migration order by name').all() as { name: string }[];
  t.deepEqual(applied.map((r) => r.name), [...MIGRATION_NAMES]);
  t.is(Number(storage.connection.db.pragma('page_size', { simple: true })), 65536);
  t.is(String(storage.connection.db.pragma('journal_mode', { simple: true })), 'wal');
  t.is(Number(storage.connection.db.pragma('synchronous', { simple: true })), 2, 'FULL');
  await commit(storage, [[1n, 100n, 'new']]);
  const blobs = await SqliteBlobs.open(options);
  t.teardown(() => blobs.close());
  t.truthy(await blobs.createBlob());
});

test('synchronous=normal is applied', async (t) => {
  const options = optionsIn(await tempDir(t), { synchronous: 'normal' });
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  t.is(Number(storage.connection.db.pragma('synchronous', { simple: true })), 1, 'NORMAL');
});

test('a file with a migration this version does not know is refused as corrupt', async (t) => {
  const options = optionsIn(await tempDir(t));
  const conn = await acquireConnection(options.location, options);
  conn.db.prepare("insert into kysely_migration (name, timestamp) values ('9999_future', '2030')").run();
  await releaseConnection(conn);
  await t.throwsAsync(SqliteStorage.open(options), { code: 'HANDLERTON_CORRUPTION' });
});
