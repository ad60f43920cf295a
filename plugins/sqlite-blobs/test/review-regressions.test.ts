/** Regression tests for defects found by reviewing the SQLite engine (each reproduces one scenario). */
import test from 'ava';
import { blobTransaction, storageTransaction, type BlobRef } from '@handlerton/framework';
import { SqliteBlobs, SqliteStorage } from '../src/index.js';
import { commit, openBlobs, openStorage, optionsIn, tempDir, text } from './helpers.js';

test("a deleted object is recreated with serial 0n or the delete marker's tid", async (t) => {
  const { storage } = await openStorage(t);
  const t1 = await commit(storage, [[1n, 0n, 'one']]);
  const txn = storageTransaction();
  await storage.tpcBegin(txn);
  await storage.deleteObject(1n, t1, txn);
  await storage.tpcVote(txn);
  const t2 = await storage.tpcFinish(txn);
  await commit(storage, [[1n, t2, 'again']]);
  t.is(text((await storage.load(1n)).data), 'again');
});

test('aborting a transaction that waits in tpcBegin does not leave the commit lock held', async (t) => {
  const { storage } = await openStorage(t);
  const a = storageTransaction();
  const b = storageTransaction();
  await storage.tpcBegin(a);
  const waiting = storage.tpcBegin(b);
  await t.throwsAsync(storage.tpcBegin(b), { code: 'HANDLERTON_STORAGE_TRANSACTION' });
  await storage.tpcAbort(b);
  await storage.tpcVote(a);
  await storage.tpcFinish(a);
  await t.throwsAsync(waiting, { code: 'HANDLERTON_STORAGE_TRANSACTION' });
  // The lock is free: a new transaction commits.
  const tid = await commit(storage, [[5n, 0n, 'after']]);
  t.true(tid > 0n);
});

test('newOid never hands out an oid again after a pack removed every row of the highest oid', async (t) => {
  const dir = await tempDir(t);
  const options = optionsIn(dir);
  const storage = await SqliteStorage.open(options);
  const o1 = await storage.newOid();
  const o2 = await storage.newOid();
  const t1 = await commit(storage, [[o1, 0n, 'x'], [o2, 0n, 'y']]);
  const txn = storageTransaction();
  await storage.tpcBegin(txn);
  await storage.deleteObject(o2, t1, txn);
  await storage.tpcVote(txn);
  await storage.tpcFinish(txn);
  await commit(storage, [[o1, t1, 'x2']]);
  await storage.pack(storage.lastTransaction() + 1n);
  await storage.close();
  const reopened = await SqliteStorage.open(options);
  t.true((await reopened.newOid()) > o2);
  await reopened.close();
});

test('two concurrent closes of the blob handlerton release the shared connection once', async (t) => {
  const dir = await tempDir(t);
  const options = optionsIn(dir);
  const storage = await SqliteStorage.open(options);
  const blobs = await SqliteBlobs.open(options);
  await commit(storage, [[1n, 0n, 'kept']]);
  const blobId = await blobs.createBlob();
  const draft = await blobs.createDraft(blobTransaction(), blobId, 1n, null);
  await draft.write(new Uint8Array(5000).fill(1), 0);
  await Promise.all([blobs.close(), blobs.close()]);
  t.is(text((await storage.load(1n)).data), 'kept', 'the storage still has its connection');
  await storage.close();
});

test('reclaim keeps a revision that gained a reference while reclaim was running', async (t) => {
  const { blobs } = await openBlobs(t, { chunkSize: 4096 });
  const commitRevision = async (blobId: bigint, revision: bigint, size: number, refs: BlobRef[] = []): Promise<void> => {
    const txn = blobTransaction();
    const draft = await blobs.createDraft(txn, blobId, 1n, null);
    await draft.write(new Uint8Array(size).fill(7), 0);
    if (refs.length > 0) await blobs.addReferences(txn, refs);
    await blobs.prepare(txn, revision);
    await blobs.commit(txn);
  };
  const big = await blobs.createBlob();
  const small = await blobs.createBlob();
  await commitRevision(big, 100n, 200 * 4096); // unreferenced, slow to drop (it yields while dropping)
  await commitRevision(small, 200n, 10); // unreferenced too, for now
  const reclaiming = blobs.reclaim();
  await new Promise((resolve) => setImmediate(resolve));
  // A record starts referencing the small revision while reclaim runs.
  const txn = blobTransaction();
  await blobs.addReferences(txn, [{ handlerton: blobs.name, blobId: small, revision: 200n }]);
  await blobs.prepare(txn, 300n);
  await blobs.commit(txn);
  await reclaiming;
  t.is(await blobs.refcount(small, 200n), 1);
  const reader = await blobs.openRevision(small, 200n);
  t.is(reader.size, 10);
  await reader.close();
});
