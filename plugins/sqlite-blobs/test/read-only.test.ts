/** readOnly: inspecting a database, also while a writer in another process holds it and commits. */
import test from 'ava';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { blobTransaction, NO_REFS, storageTransaction, type BlobHandlerton } from '@handlerton/framework';
import { MIGRATION_NAMES, SqliteBlobs, SqliteStorage, type SqliteOptions } from '../src/index.js';
import { acquireConnection, releaseConnection, writerLockFile } from '../src/connection.js';
import { locatorKeyFile } from '../src/locator-key.js';
import { commit, optionsIn, pattern, tempDir, text } from './helpers.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;
const helpersUrl = new URL('./helpers.js', import.meta.url).href;
const BLOB_BYTES = 150_000;

/** A writer in a child process: opens storage and blobs, then commits oid 1 and a blob revision per "commit <n>" line. */
const WRITER = (options: SqliteOptions): string => `
  import { createInterface } from 'node:readline';
  import { blobTransaction } from '@handlerton/framework';
  import { SqliteBlobs, SqliteStorage } from ${JSON.stringify(indexUrl)};
  import { commit, pattern } from ${JSON.stringify(helpersUrl)};
  const options = ${JSON.stringify(options)};
  const storage = await SqliteStorage.open(options);
  const blobs = await SqliteBlobs.open(options);
  const blobId = await blobs.createBlob();
  const serial0 = await storage.load(1n).then((r) => r.tid, () => 0n);
  let serial = serial0;
  console.log('ready ' + blobId);
  const open = [];
  for await (const line of createInterface({ input: process.stdin })) {
    const n = Number(line.split(' ')[1]);
    if (line.startsWith('draft')) {
      // A blob transaction left open: its draft rows stay in the file if the process dies.
      const draft = await blobs.createDraft(blobTransaction(), blobId, 1n, null);
      await draft.write(pattern(${BLOB_BYTES}, n), 0);
      await draft.flush();
      open.push(draft);
      console.log('ok drafted');
      continue;
    }
    const tid = await commit(storage, [[1n, serial, 'value-' + n]]);
    serial = tid;
    const txn = blobTransaction();
    const draft = await blobs.createDraft(txn, blobId, 1n, null);
    await draft.write(pattern(${BLOB_BYTES}, n), 0);
    await blobs.addReferences(txn, [{ handlerton: 'sqlite-blobs', blobId, revision: tid }]);
    await blobs.prepare(txn, tid);
    await blobs.commit(txn);
    console.log('ok ' + tid);
  }
  await blobs.close();
  await storage.close();
  console.log('closed');
`;

/** A running writer process and a way to send it a line and wait for its answer. */
interface Writer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly blobId: bigint;
  send(line: string): Promise<string>;
  stop(): Promise<void>;
}

async function startWriter(options: SqliteOptions): Promise<Writer> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER(options)], { cwd: join(import.meta.dirname, '..'), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: ((line: string) => void)[] = [];
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (let at = out.indexOf('\n'); at >= 0; at = out.indexOf('\n')) {
      const line = out.slice(0, at);
      out = out.slice(at + 1);
      waiters.shift()?.(line);
    }
  });
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      waiters.push(resolve);
      child.once('exit', (code) => reject(new Error(`writer exited with ${code}: ${err}`)));
    });
  const ready = await next();
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    child,
    blobId: BigInt(ready.split(' ')[1]!),
    send: (line) => {
      const answer = next();
      child.stdin.write(`${line}\n`);
      return answer;
    },
    stop: async () => {
      if (child.exitCode === null) child.stdin.end();
      await closed;
    },
  };
}

/** Size, mtime and sha256 of every file in `dir`. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const stat = statSync(path);
    out.set(name, `${stat.size} ${stat.mtimeMs} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
  }
  return out;
}

/**
 * Every file of `before` is unchanged in `after`, except SQLite's shared-memory index (-shm), which
 * every WAL reader uses (read marks): it is not database content. The only files that may appear are
 * the side files SQLite itself makes for a reader of an idle WAL database: an empty -wal and a -shm.
 */
function assertUnchanged(t: import('ava').ExecutionContext, before: Map<string, string>, after: Map<string, string>): void {
  for (const [name, state] of before) {
    if (!name.endsWith('-shm')) t.is(after.get(name), state, `${name} unchanged by a read-only open`);
  }
  for (const [name, state] of after) {
    if (before.has(name)) continue;
    t.regex(name, /-(wal|shm)$/, `only SQLite's side files may appear, got ${name}`);
    if (name.endsWith('-wal')) t.is(state.split(' ')[0], '0', 'a WAL the reader made is empty');
  }
}

async function readAll(blobs: BlobHandlerton, blobId: bigint, revision: bigint): Promise<Uint8Array> {
  const reader = await blobs.openRevision(blobId, revision);
  const out = new Uint8Array(reader.size);
  let at = 0;
  while (at < out.length) at += await reader.read(out.subarray(at, Math.min(out.length, at + 50_000)), at);
  await reader.close();
  return out;
}

/** Every write method of both interfaces raises ReadOnlyError. */
async function assertWritesRefused(t: import('ava').ExecutionContext, storage: SqliteStorage, blobs: SqliteBlobs, blobId: bigint, tid: bigint): Promise<void> {
  const code = 'HANDLERTON_READ_ONLY';
  const txn = storageTransaction();
  await t.throwsAsync(storage.newOid(), { code });
  await t.throwsAsync(storage.tpcBegin(txn), { code });
  await t.throwsAsync(storage.store(1n, tid, { data: new Uint8Array(1), refs: NO_REFS }, txn), { code });
  await t.throwsAsync(storage.storeMany([{ oid: 1n, serial: tid, record: null }], txn), { code });
  await t.throwsAsync(storage.deleteObject(1n, tid, txn), { code });
  await t.throwsAsync(storage.restore(1n, null, txn), { code });
  await t.throwsAsync(storage.tpcVote(txn), { code });
  await t.throwsAsync(storage.tpcFinish(txn), { code });
  await t.throwsAsync(storage.pack(tid), { code });
  const btxn = blobTransaction();
  await t.throwsAsync(blobs.createBlob(), { code });
  await t.throwsAsync(blobs.createDraft(btxn, blobId, 1n, tid), { code });
  await t.throwsAsync(blobs.addReferences(btxn, [{ handlerton: 'sqlite-blobs', blobId, revision: tid }]), { code });
  await t.throwsAsync(blobs.prepare(btxn, tid + 1n), { code });
  await t.throwsAsync(blobs.commit(btxn), { code });
  await t.throwsAsync(blobs.releaseReferences([{ handlerton: 'sqlite-blobs', blobId, revision: tid }]), { code });
  await t.throwsAsync(blobs.reclaim(), { code });
  await blobs.rollback(btxn);
  await blobs.recover(async () => false); // left for the writer: a no-op
  t.is(await blobs.refcount(blobId, tid), 1, 'nothing released');
}

test('read-only beside a writer in another process: sees committed data still in the WAL, refuses writes, takes no lock, changes no file', async (t) => {
  const dir = await tempDir(t);
  const options = optionsIn(dir, { synchronous: 'normal' });
  const writer = await startWriter(options);
  t.teardown(() => writer.stop());
  const tid1 = BigInt((await writer.send('commit 1')).split(' ')[1]!);
  const recordsFile = options.location;
  // The commit is in the WAL, not yet in the database file: the reader must read it from there.
  t.false(readFileSync(recordsFile).includes('value-1'), 'the record is not checkpointed yet');
  t.true(readFileSync(`${recordsFile}-wal`).includes('value-1'), 'the record is in the WAL');
  const before = snapshot(dir);
  t.true(before.has(`db.sqlite-writer.lock`), "the writer's lock file");

  const ro = { ...options, readOnly: true };
  const storage = await SqliteStorage.open(ro);
  const blobs = await SqliteBlobs.open(ro);
  try {
    t.true(storage.capabilities.readOnly);
    t.deepEqual([...storage.connection.threads, ...blobs.connection.threads], [], 'no checkpointer, no chunk writer');
    t.is(storage.lastTransaction(), tid1);
    t.is(text((await storage.load(1n)).data), 'value-1');
    t.deepEqual(await readAll(blobs, writer.blobId, tid1), pattern(BLOB_BYTES, 1));
    t.is(await storage.locatorSecret(), null, 'no locator key is created');
    await assertWritesRefused(t, storage, blobs, writer.blobId, tid1);

    // The writer commits while the reader is open (the reader holds no lock): the reader follows.
    const tid2 = BigInt((await writer.send('commit 2')).split(' ')[1]!);
    t.true(tid2 > tid1);
    t.is(storage.lastTransaction(), tid2);
    t.is(text((await storage.load(1n)).data), 'value-2');
    t.is(text((await storage.loadSerial(1n, tid1)).data), 'value-1');
    t.deepEqual(await readAll(blobs, writer.blobId, tid2), pattern(BLOB_BYTES, 2));
    const tids: bigint[] = [];
    for await (const txn of storage.iterator()) tids.push(txn.tid);
    t.deepEqual(tids.slice(-2), [tid1, tid2]);
  } finally {
    await blobs.close();
    await storage.close();
  }
  // Nothing the reader did is in any file: compare with the state right after the writer's next commit.
  const mid = snapshot(dir);
  const again = await SqliteStorage.open(ro);
  t.is(text((await again.load(1n)).data), 'value-2');
  await again.close();
  const after = snapshot(dir);
  assertUnchanged(t, mid, after);
  t.deepEqual([...after.keys()], [...mid.keys()], 'no file created beside a running writer');
  t.false(existsSync(locatorKeyFile(recordsFile)));
  t.is(before.get('db.sqlite-writer.lock'), after.get('db.sqlite-writer.lock'), 'the lock file is untouched');
  await writer.stop();
});

test('read-only on an idle database: no writer lock (a writer process opens beside it), database files unchanged', async (t) => {
  const dir = await tempDir(t);
  const options = optionsIn(dir, { synchronous: 'normal' });
  const setup = await startWriter(options);
  const tid = BigInt((await setup.send('commit 7')).split(' ')[1]!);
  await setup.stop();
  const before = snapshot(dir);
  t.false(before.has('db.sqlite-wal'), 'a clean close removed the WAL');
  const ro = { ...options, readOnly: true };
  const storage = await SqliteStorage.open(ro);
  const blobs = await SqliteBlobs.open(ro);
  try {
    t.is(text((await storage.load(1n)).data), 'value-7');
    t.deepEqual(await readAll(blobs, setup.blobId, tid), pattern(BLOB_BYTES, 7));
    // No lock held: a writer in another process opens and commits while the reader is open.
    const writer = await startWriter(options);
    try {
      const next = BigInt((await writer.send('commit 8')).split(' ')[1]!);
      t.is(storage.lastTransaction(), next);
      t.is(text((await storage.load(1n)).data), 'value-8');
    } finally {
      await writer.stop();
    }
  } finally {
    await blobs.close();
    await storage.close();
  }
  // Alone on the idle database now: the database files stay byte for byte; SQLite adds only its empty -wal and its -shm.
  const idle = snapshot(dir);
  const again = await SqliteStorage.open(ro);
  const againBlobs = await SqliteBlobs.open(ro);
  t.is(text((await again.load(1n)).data), 'value-8');
  await againBlobs.close();
  await again.close();
  assertUnchanged(t, idle, snapshot(dir));
});

test('read-only after a writer was killed: sees its commits from the un-checkpointed WAL, leaves its drafts and the WAL to the next writer', async (t) => {
  const dir = await tempDir(t);
  const options = optionsIn(dir, { synchronous: 'full' });
  const writer = await startWriter(options);
  t.teardown(() => writer.stop());
  const tid = BigInt((await writer.send('commit 3')).split(' ')[1]!);
  await writer.send('draft 4');
  writer.child.kill('SIGKILL');
  await writer.stop();
  t.true(readFileSync(`${options.location}-wal`).includes('value-3'), 'the commit is only in the WAL');
  const before = snapshot(dir);
  const ro = { ...options, readOnly: true };
  const storage = await SqliteStorage.open(ro);
  const blobs = await SqliteBlobs.open(ro);
  const drafts = (b: SqliteBlobs): bigint =>
    (b.connection.db.prepare("select count(*) as n from blob_revision where state = 'draft'").get() as { n: bigint }).n;
  try {
    t.is(storage.lastTransaction(), tid);
    t.is(text((await storage.load(1n)).data), 'value-3');
    t.deepEqual(await readAll(blobs, writer.blobId, tid), pattern(BLOB_BYTES, 3));
    t.is(drafts(blobs), 1n, "the dead process's draft is left for the writer");
  } finally {
    await blobs.close();
    await storage.close();
  }
  assertUnchanged(t, before, snapshot(dir));
  const writable = await SqliteBlobs.open(options);
  t.is(drafts(writable), 0n, 'the next writable open drops it');
  await writable.close();
});

test('read-only and read-write in one process use separate connections; the reader sees the writer\'s commits', async (t) => {
  const options = optionsIn(await tempDir(t));
  const writer = await SqliteStorage.open(options);
  t.teardown(() => writer.close());
  const tid = await commit(writer, [[1n, 0n, 'one']]);
  const reader = await SqliteStorage.open({ ...options, readOnly: true });
  t.teardown(() => reader.close());
  t.not(reader.connection, writer.connection);
  const writableBlobs = await SqliteBlobs.open(options);
  t.deepEqual(writableBlobs.connection.threads, ['checkpoint', 'chunk-writer'], 'a writable blob file runs both threads');
  const readOnlyBlobs = await SqliteBlobs.open({ ...options, readOnly: true });
  t.deepEqual(readOnlyBlobs.connection.threads, [], 'a read-only one runs none');
  await readOnlyBlobs.close();
  await writableBlobs.close();
  t.false(writer.capabilities.readOnly);
  t.true(reader.capabilities.readOnly);
  const tid2 = await commit(writer, [[1n, tid, 'two']]);
  t.is(reader.lastTransaction(), tid2);
  t.is(text((await reader.load(1n)).data), 'two');
  await t.throwsAsync(reader.newOid(), { code: 'HANDLERTON_READ_ONLY' });
});

test('read-only on a missing database is DatabaseNotFoundError and creates nothing', async (t) => {
  const dir = await tempDir(t);
  const location = join(dir, 'sub', 'none.db');
  const options = optionsIn(dir, { location, readOnly: true });
  const error = await t.throwsAsync(SqliteStorage.open(options), { code: 'HANDLERTON_NOT_FOUND' });
  t.true(error!.message.includes(location), error!.message);
  await t.throwsAsync(SqliteBlobs.open(options), { code: 'HANDLERTON_NOT_FOUND' });
  t.deepEqual(readdirSync(dir), [], 'no file or directory created');
});

test('read-only refuses an outdated schema (open it read-write once) and a newer one, changing nothing', async (t) => {
  const dir = await tempDir(t);
  const options = optionsIn(dir);
  const old = await acquireConnection(options.location, { ...options, migrateTo: MIGRATION_NAMES.records[0] }, 'records');
  await releaseConnection(old);
  const before = snapshot(dir);
  const error = await t.throwsAsync(SqliteStorage.open({ ...options, readOnly: true }), { code: 'HANDLERTON_FORMAT_VERSION' });
  t.regex(error!.message, /older schema.*open it read-write once/);
  t.regex(error!.message, new RegExp(MIGRATION_NAMES.records[1]!));
  assertUnchanged(t, before, snapshot(dir));
  // Upgraded by a read-write open, then marked as migrated by a newer version: FormatVersionError too.
  const storage = await SqliteStorage.open(options);
  storage.connection.db.prepare("insert into kysely_migration (name, timestamp) values ('9999_future', 'x')").run();
  await storage.close();
  const newer = await t.throwsAsync(SqliteStorage.open({ ...options, readOnly: true }), { code: 'HANDLERTON_FORMAT_VERSION' });
  t.regex(newer!.message, /newer version/);
  t.false(existsSync(writerLockFile(`${options.location}-blobs`)), 'the blob file was never opened');
});
