/** The checksums of migration 0003's chain links (revision.link) and current pointers (object_current.crc). */
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { CorruptionError, type Tid } from '@handlerton/framework';
import { acquireConnection, releaseConnection, roleFile } from '../src/connection.js';
import { MIGRATION_NAMES, SqliteStorage } from '../src/index.js';
import { encodeOidList } from '../src/oid-list.js';
import { linkChecksum, recordChecksum, txnChecksum } from '../src/record-check.js';
import { commit, optionsIn, tempDir, text } from './helpers.js';

/** A closed records file where oid 1 has three revisions (values a, b, c) and oid 2 one. */
async function threeRevisions(dir: string): Promise<{ options: ReturnType<typeof optionsIn>; tids: [Tid, Tid, Tid] }> {
  const options = optionsIn(dir);
  const storage = await SqliteStorage.open(options);
  const first = await commit(storage, [[1n, 0n, 'a'], [2n, 0n, 'other']]);
  const second = await commit(storage, [[1n, first, 'b']]);
  const third = await commit(storage, [[1n, second, 'c']]);
  await storage.close();
  return { options, tids: [first, second, third] };
}

/** Runs `statement` with `params` on the closed records file of `options`. */
function tamper(options: ReturnType<typeof optionsIn>, statement: string, ...params: unknown[]): void {
  const raw = new Database(roleFile(options.location, 'records'));
  raw.defaultSafeIntegers(true);
  raw.prepare(statement).run(...params);
  raw.close();
}

/** Awaits `read` and checks that it rejects with CorruptionError. */
async function expectCorruption(t: ExecutionContext, what: string, read: () => Promise<unknown>): Promise<void> {
  const error = await t.throwsAsync(read());
  t.true(error instanceof CorruptionError, `${what}: ${String(error)}`);
}

test('a damaged prev_tid that ends the chain is CorruptionError on loadBefore and history, not "created later"', async (t) => {
  const { options, tids } = await threeRevisions(await tempDir(t));
  tamper(options, 'update revision set prev_tid = null where oid = 1 and tid = ?', tids[2]);
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  await expectCorruption(t, 'loadBefore', () => storage.loadBefore(1n, tids[2]));
  await expectCorruption(t, 'history', () => storage.history(1n));
  t.is(text((await storage.load(1n)).data), 'c', 'the current revision itself is sound');
});

test('a damaged prev_tid that skips a revision is CorruptionError, not an older revision', async (t) => {
  const { options, tids } = await threeRevisions(await tempDir(t));
  tamper(options, 'update revision set prev_tid = ? where oid = 1 and tid = ?', tids[0], tids[2]);
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  await expectCorruption(t, 'loadBefore', () => storage.loadBefore(1n, tids[2]));
  await expectCorruption(t, 'history', () => storage.history(1n));
  await expectCorruption(t, 'pack', () => storage.pack(tids[2]));
});

test('a link to a revision that is not there is CorruptionError (migration 0003 and pack end chains they cut)', async (t) => {
  const { options, tids } = await threeRevisions(await tempDir(t));
  // A consistent link (its checksum matches) to a tid with no row (older than every revision): what a misrouted seek also looks like.
  const missing = tids[0] - 1n;
  tamper(options, 'update revision set prev_tid = ?, link = ? where oid = 1 and tid = ?', missing, linkChecksum(1n, tids[2], missing, 0n), tids[2]);
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  await expectCorruption(t, 'loadBefore', () => storage.loadBefore(1n, tids[2]));
  await expectCorruption(t, 'history', () => storage.history(1n));
});

test('a current pointer damaged to name an older revision of its object is CorruptionError, not old data', async (t) => {
  const { options, tids } = await threeRevisions(await tempDir(t));
  tamper(options, 'update object_current set tid = ? where oid = 1', tids[0]);
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  await expectCorruption(t, 'load', () => storage.load(1n));
  await expectCorruption(t, 'loadBefore', () => storage.loadBefore(1n, tids[2]));
  await expectCorruption(t, 'history', () => storage.history(1n));
  await expectCorruption(t, 'store', () => commit(storage, [[1n, tids[2], 'd']]));
  t.is(text((await storage.load(2n)).data), 'other', 'other pointers are sound');
});

test('pack keeps chains checkable: after a pack, loadBefore and history end at the kept revision', async (t) => {
  const { options, tids } = await threeRevisions(await tempDir(t));
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  await storage.pack(tids[1]);
  t.is((await storage.loadBefore(1n, tids[2]))!.tid, tids[1]);
  t.is(await storage.loadBefore(1n, tids[1]), null);
  t.deepEqual((await storage.history(1n)).map((h) => h.tid), [tids[2], tids[1]]);
});

test('migration 0003 rebuilds chains from the rows: a revision an old pack removed ends the chain', async (t) => {
  const options = optionsIn(await tempDir(t));
  const old = await acquireConnection(options.location, { ...options, migrateTo: MIGRATION_NAMES.records[1] }, 'records');
  const insertTxn = old.db.prepare('insert into txn (tid, user, description, extension, status, oids, crc) values (?, ?, ?, ?, ?, ?, ?)');
  const insertRev = old.db.prepare('insert into object_revision (oid, tid, prev_tid, deleted, data, refs, crc) values (?, ?, ?, ?, ?, null, ?)');
  // Revision 10 of oid 1 went in an old pack, which left revision 20 naming it.
  for (const [tid, status] of [[20n, 'p'], [30n, ' ']] as const) {
    const oids = encodeOidList([1n]);
    insertTxn.run(tid, 'u', `t${tid}`, '{}', status, oids, txnChecksum(tid, 'u', `t${tid}`, '{}', oids));
  }
  for (const [tid, prev, value] of [[20n, 10n, 'one-b'], [30n, 20n, 'one-c']] as const) {
    const data = Buffer.from(value);
    insertRev.run(1n, tid, prev, 0, data, recordChecksum(1n, tid, 0, data, null));
  }
  await releaseConnection(old);
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  t.is(text((await storage.loadBefore(1n, 30n))!.data), 'one-b');
  t.is(await storage.loadBefore(1n, 20n), null);
  t.deepEqual((await storage.history(1n)).map((h) => h.tid), [30n, 20n]);
});

test('the iterator raises CorruptionError when a revision of a transaction no pack touched does not read back', async (t) => {
  const { options, tids } = await threeRevisions(await tempDir(t));
  tamper(options, 'delete from revision where oid = 2 and tid = ?', tids[0]);
  const storage = await SqliteStorage.open(options);
  t.teardown(() => storage.close());
  await expectCorruption(t, 'iterator', async () => {
    for await (const txn of storage.iterator()) t.log(`read transaction ${txn.tid}`);
  });
});
