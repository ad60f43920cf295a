import test from 'ava';
import { storageTransaction, type BlobRef, type IteratedTransaction } from '@handlerton/framework';
import { commit, openStorage, rec, text } from './helpers.js';

const blobRef = (blobId: bigint, revision: bigint): BlobRef => ({ handlerton: 'sqlite-blobs', blobId, revision });

test('pack keeps the revision current at packTid and later ones, drops older ones', async (t) => {
  const { storage } = await openStorage(t);
  const t1 = await commit(storage, [[1n, 0n, 'v1'], [2n, 0n, 'only']]);
  const t2 = await commit(storage, [[1n, t1, 'v2']]);
  const t3 = await commit(storage, [[1n, t2, 'v3']]);
  const result = await storage.pack(t2);
  t.is(result.removedRevisions, 1);
  t.is(result.removedObjects, 0);
  t.true(result.reclaimedBytes >= 2);
  await t.throwsAsync(storage.loadSerial(1n, t1), { code: 'HANDLERTON_POS_KEY' });
  t.is(text((await storage.loadSerial(1n, t2)).data), 'v2');
  t.is(text((await storage.load(1n)).data), 'v3');
  t.is(text((await storage.load(2n)).data), 'only');
  t.is((await storage.history(1n)).length, 2);
  t.is(await storage.loadBefore(1n, t2), null, 'nothing before the packed-away revision');
  const txns: IteratedTransaction[] = [];
  for await (const txn of storage.iterator()) txns.push(txn);
  t.deepEqual(txns.map((x) => [x.tid, x.status]), [[t1, 'p'], [t2, ' '], [t3, ' ']]);
  t.deepEqual(txns[0]!.records.map((r) => r.oid), [2n]);
});

test('pack drops every revision of an object deleted at packTid and reports its blob refs', async (t) => {
  const { storage } = await openStorage(t);
  const t1 = await commit(storage, [[1n, 0n, 'keep']]);
  const a = storageTransaction();
  await storage.tpcBegin(a);
  await storage.store(5n, 0n, rec('blobby', { oids: [], blobs: [blobRef(9n, 1n)] }), a);
  await storage.tpcVote(a);
  const t2 = await storage.tpcFinish(a);
  const b = storageTransaction();
  await storage.tpcBegin(b);
  await storage.store(5n, t2, rec('blobby2', { oids: [1n], blobs: [blobRef(9n, 2n), blobRef(10n, 1n)] }), b);
  await storage.tpcVote(b);
  const t3 = await storage.tpcFinish(b);
  const d = storageTransaction();
  await storage.tpcBegin(d);
  await storage.deleteObject(5n, t3, d);
  await storage.tpcVote(d);
  const t4 = await storage.tpcFinish(d);
  const released: BlobRef[] = [];
  const result = await storage.pack(t4, { releaseBlobRefs: async (refs) => void released.push(...refs) });
  t.is(result.removedRevisions, 3);
  t.is(result.removedObjects, 1);
  t.deepEqual(
    released.map((r) => [r.blobId, r.revision]).sort(),
    [[10n, 1n], [9n, 1n], [9n, 2n]].sort(),
  );
  await t.throwsAsync(storage.loadBefore(5n, t4), { code: 'HANDLERTON_POS_KEY' });
  await t.throwsAsync(storage.history(5n), { code: 'HANDLERTON_POS_KEY' });
  t.is(text((await storage.load(1n)).data), 'keep');
  t.is(storage.lastTransaction(), t4);
  const tids: bigint[] = [];
  for await (const txn of storage.iterator()) tids.push(txn.tid);
  t.deepEqual(tids, [t1, t4], 'emptied transactions go, the newest stays');
});

test('pack keeps revisions committed after packTid; commits go on during a pack; second pack is refused', async (t) => {
  const { storage } = await openStorage(t, { synchronous: 'normal' });
  let serial = 0n;
  for (let i = 0; i < 5; i++) serial = await commit(storage, [[1n, serial, `v${i}`]]);
  const packTid = serial;
  const later = await commit(storage, [[1n, serial, 'after']]);
  for (let oid = 10n; oid < 500n; oid++) await commit(storage, [[oid, 0n, 'x']]);
  const running = storage.pack(packTid);
  await t.throwsAsync(storage.pack(packTid), { code: 'HANDLERTON_PACK_IN_PROGRESS' });
  const during = await commit(storage, [[1n, storage.lastTransaction() === later ? later : (await storage.load(1n)).tid, 'during']]);
  const result = await running;
  t.is(result.removedRevisions, 4);
  t.is(text((await storage.loadSerial(1n, packTid)).data), 'v4');
  t.is(text((await storage.loadSerial(1n, later)).data), 'after');
  t.is((await storage.load(1n)).tid, during);
  const empty = await storage.pack(0n);
  t.is(empty.removedRevisions, 0);
});
