import test from 'ava';
import Database from 'better-sqlite3';
import { acquireConnection, releaseConnection, roleFile } from '../src/connection.js';
import { MIGRATION_NAMES, SqliteBlobs, SqliteStorage } from '../src/index.js';
import { commit, optionsIn, tempDir, text } from './helpers.js';

const tables = (db: Database.Database): string[] =>
  (db.prepare("select name from sqlite_master where type = 'table' order by name").all() as { name: string }[]).map((r) => r.name);

test('a blob file at an older schema version is upgraded on open and keeps its id', async (t) => {
  const options = optionsIn(await tempDir(t));
  const old = await acquireConnection(options.location, { ...options, migrateTo: MIGRATION_NAMES.blobs[0] }, 'blobs');
  t.false(tables(old.db).includes('chunk'));
  const id = old.databaseId;
  await releaseConnection(old);

  const blobs = await SqliteBlobs.open(options);
  t.teardown(() => blobs.close());
  t.is(blobs.databaseId, id);
  t.true(tables(blobs.connection.db).includes('chunk'));
  const applied = blobs.connection.db.prepare('select name from kysely_migration order by name').all() as { name: string }[];
  t.deepEqual(applied.map((r) => r.name), [...MIGRATION_NAMES.blobs]);
  t.truthy(await blobs.createBlob());
});

test('records and blobs live in two files with their own page size, both WAL with synchronous=FULL', async (t) => {
  const options = optionsIn(await tempDir(t));
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  const blobs = await SqliteBlobs.open(options);
  t.teardown(() => blobs.close());
  t.is(storage.connection.file, roleFile(options.location, 'records'));
  t.is(blobs.connection.file, `${roleFile(options.location, 'records')}-blobs`);
  t.is(Number(storage.connection.db.pragma('page_size', { simple: true })), 4096);
  t.is(Number(blobs.connection.db.pragma('page_size', { simple: true })), 65536);
  for (const db of [storage.connection.db, blobs.connection.db]) {
    t.is(String(db.pragma('journal_mode', { simple: true })), 'wal');
    t.is(Number(db.pragma('synchronous', { simple: true })), 2, 'FULL');
  }
  t.true(tables(storage.connection.db).includes('revision'));
  t.true(tables(storage.connection.db).includes('object_current'));
  t.false(tables(storage.connection.db).includes('object_revision'), 'migration 0003 moved the revisions');
  t.false(tables(storage.connection.db).includes('chunk'));
  t.false(tables(blobs.connection.db).includes('revision'));
  const applied = storage.connection.db.prepare('select name from kysely_migration order by name').all() as { name: string }[];
  t.deepEqual(applied.map((r) => r.name), [...MIGRATION_NAMES.records]);
  await commit(storage, [[1n, 0n, 'new']]);
  t.is(text((await storage.load(1n)).data), 'new');
});

test('synchronous=normal is applied', async (t) => {
  const options = optionsIn(await tempDir(t), { synchronous: 'normal' });
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  t.is(Number(storage.connection.db.pragma('synchronous', { simple: true })), 1, 'NORMAL');
});

test('fault sweep regression: a migration that fails half way leaves no half-created schema, and a later open upgrades the file', async (t) => {
  // The fault sweep found it with an fsync EIO during a blob file's first migration: kysely's SQLite
  // adapter ran each DDL statement in autocommit mode, so every later open failed with
  // "table blob already exists". Here a name clash makes migration 0002 fail after its first tables.
  const options = optionsIn(await tempDir(t));
  const old = await acquireConnection(options.location, { ...options, migrateTo: MIGRATION_NAMES.blobs[0] }, 'blobs');
  old.db.exec('create table decoy (x); create index revision_chunk_by_chunk on decoy (x)');
  await releaseConnection(old);
  await t.throwsAsync(SqliteBlobs.open(options));
  const raw = new Database(roleFile(options.location, 'blobs'));
  t.false(tables(raw).includes('blob'), 'the failed migration left the blob table behind');
  raw.exec('drop table decoy');
  raw.close();
  const blobs = await SqliteBlobs.open(options);
  t.teardown(() => blobs.close());
  t.true(tables(blobs.connection.db).includes('chunk'));
  t.truthy(await blobs.createBlob());
});
