/**
 * The overlapping-writers check (`concurrency.db-transactions-32-concurrent`) judges engines, not
 * timing: a correct engine whose transactions begin at staggered tids (as on PostgreSQL, where each
 * `transaction()` awaits a round trip) passes, and an engine that accepts stale serials fails even
 * when its transactions begin freely. Session 7 read a legitimate interleaving as a lost update.
 */
import test from 'ava';
import { createDatabase, type Oid, type RecordInput, type StorageTransaction, type Tid } from '@handlerton/framework';
import { MemoryBlobHandlerton, MemoryStorage } from '@handlerton/memory';
import { CATALOGUE, runCases, type Harness } from '../src/index.js';
import { createObjects, overlappingWrites } from '../src/util/db-commits.js';
import { DelegatingStorage } from './fixtures/delegating.js';

/** A correct engine whose `sync()` returns later for each call: transaction k begins after earlier ones committed. */
class StaggeredStarts extends DelegatingStorage {
  #calls = 0;
  async sync(): Promise<Tid> {
    const delayMs = Math.min(this.#calls++, 40);
    await new Promise<void>((resolve) => setTimeout(resolve, delayMs));
    return this.inner.lastTransaction();
  }
}

/** A broken engine: stores use the current serial, so stale writers silently win (lost updates). */
class AcceptsStaleSerials extends DelegatingStorage {
  override async store(oid: Oid, _serial: Tid, record: RecordInput, txn: StorageTransaction): Promise<void> {
    const current = await this.inner.load(oid).then((r) => r.tid, () => 0n);
    await this.inner.store(oid, current, record, txn);
  }
}

const CASE = CATALOGUE.filter((c) => c.id === 'concurrency.db-transactions-32-concurrent');

function harness(name: string, wrap: (s: MemoryStorage) => DelegatingStorage): Harness {
  return {
    name,
    storageCapabilities: MemoryStorage.capabilities,
    blobCapabilities: MemoryBlobHandlerton.capabilitiesFor('dataTransactional'),
    factory: async () => ({ storage: wrap(new MemoryStorage()), blobs: new MemoryBlobHandlerton() }),
  };
}

test('a correct engine whose transactions begin at staggered tids passes the overlapping-writers case', async (t) => {
  t.is(CASE.length, 1);
  const [result] = await runCases(CASE, harness('staggered', (s) => new StaggeredStarts(s)), { timeoutMs: 60_000 });
  t.is(result?.status, 'pass', result?.reason ?? '');
});

test('staggered starts do build on each other: several writers of one object commit when they run freely', async (t) => {
  const db = await createDatabase({ storage: new StaggeredStarts(new MemoryStorage()), blobs: new MemoryBlobHandlerton() });
  try {
    const shared = await createObjects(db, 8, 'init');
    const free = await overlappingWrites(db, shared, 32, 'free', { oneSnapshot: false });
    // Without a common snapshot most transactions see their predecessors' commits and commit too.
    t.true(free.winners > 8, `more winners than objects (got ${free.winners})`);
    const held = await overlappingWrites(db, shared, 32, 'held');
    // From one snapshot the winners' object pairs are disjoint: at most 4 pairs on a ring of 8.
    t.true(held.winners <= 4, `from one snapshot at most 4 winners (got ${held.winners})`);
  } finally {
    await db.close();
  }
});

test('an engine that accepts stale serials fails the case, also when its transactions begin freely', async (t) => {
  const [result] = await runCases(CASE, harness('stale-serials', (s) => new AcceptsStaleSerials(s)), { timeoutMs: 60_000 });
  t.is(result?.status, 'fail');
  const db = await createDatabase({ storage: new AcceptsStaleSerials(new MemoryStorage()), blobs: new MemoryBlobHandlerton() });
  try {
    const shared = await createObjects(db, 8, 'init');
    const error = await t.throwsAsync(overlappingWrites(db, shared, 32, 'free', { oneSnapshot: false }));
    t.regex(error?.message ?? '', /lost or phantom update/);
  } finally {
    await db.close();
  }
});
