/** Regression tests for defects found by reviewing FileStorage2 (each reproduces one scenario). */
import test from 'ava';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blobTransaction, type BlobRef } from '@handlerton/framework';
import { FileStorage2Blobs } from '../src/blobs/index.js';
import { commit, context, loadText, openStorage, tempDir } from './fs2-helpers.js';

test('a deleted object stays deleted after a second pack while retired segments were still held open', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const a = await s.newOid();
    const b = await s.newOid();
    const ta = await commit(s, [{ oid: a, serial: 0n, data: 'a1' }]);
    await s.seal();
    const tb = await commit(s, [{ oid: b, serial: 0n, data: 'b1' }]);
    await s.seal();
    await commit(s, [{ oid: a, serial: ta, data: null }]);
    await s.seal();
    const iterator = s.iterator()[Symbol.asyncIterator]();
    await iterator.next(); // holds the segments the first pack retires
    await s.pack(s.lastTransaction() + 1n);
    await commit(s, [{ oid: b, serial: tb, data: 'b2' }]);
    await s.pack(s.lastTransaction() + 1n);
    await s.close();
    const reopened = await openStorage(dir);
    t.is(await loadText(reopened, a), null, 'the deleted object does not come back');
    t.is(await loadText(reopened, b), 'b2');
    t.deepEqual((await reopened.history(b, 10)).length, 1, 'the packed revision b1 does not come back');
    await reopened.close();
  } finally {
    await cleanup();
  }
});

test('pack releases blob references only after its output is published', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const a = await s.newOid();
    const ref: BlobRef = { handlerton: 'filestorage2', blobId: 7n, revision: 1n };
    const refs = { oids: [], blobs: [ref] };
    const t1 = await commit(s, [{ oid: a, serial: 0n, data: 'a1', refs }]);
    await commit(s, [{ oid: a, serial: t1, data: 'a2', refs }]);
    const publishedAtRelease: boolean[] = [];
    await s.pack(s.lastTransaction() + 1n, {
      releaseBlobRefs: async (): Promise<void> => {
        // A pack output (generation > 0) must already be in place: a pack that stopped before would release nothing.
        publishedAtRelease.push((await readdir(dir)).some((name) => /^seg-[0-9a-f]+-g[1-9]\d*\.fs2$/.test(name)));
      },
    });
    t.deepEqual(publishedAtRelease, [true]);
    await s.close();
    const reopened = await openStorage(dir);
    t.is(await loadText(reopened, a), 'a2');
    await reopened.close();
  } finally {
    await cleanup();
  }
});

test('newOid never hands out an oid again after a pack emptied the storage', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const o1 = await s.newOid();
    const o2 = await s.newOid();
    const t1 = await commit(s, [
      { oid: o1, serial: 0n, data: 'x' },
      { oid: o2, serial: 0n, data: 'y' },
    ]);
    await commit(s, [
      { oid: o1, serial: t1, data: null },
      { oid: o2, serial: t1, data: null },
    ]);
    await s.pack(s.lastTransaction() + 1n);
    await s.close();
    const reopened = await openStorage(dir);
    t.true((await reopened.newOid()) > o2);
    await reopened.close();
  } finally {
    await cleanup();
  }
});

test("a deleted object can be recreated with the delete marker's tid as serial", async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const a = await s.newOid();
    const t1 = await commit(s, [{ oid: a, serial: 0n, data: 'a1' }]);
    const t2 = await commit(s, [{ oid: a, serial: t1, data: null }]);
    await commit(s, [{ oid: a, serial: t2, data: 'again' }]);
    t.is(await loadText(s, a), 'again');
    await s.close();
  } finally {
    await cleanup();
  }
});

test('a damaged length field of an early journal frame is corruption, not a torn tail', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const blobsDir = join(dir, 'blobs');
    const blobs = await FileStorage2Blobs.open({ dir: blobsDir, syncMode: 'always' }, context());
    const blobId = await blobs.createBlob();
    const txn = blobTransaction();
    const draft = await blobs.createDraft(txn, blobId, 1n, null);
    await draft.write(new TextEncoder().encode('payload'), 0);
    await blobs.addReferences(txn, [{ handlerton: blobs.name, blobId, revision: 100n }]);
    await blobs.prepare(txn, 100n);
    await blobs.commit(txn);
    await blobs.close();
    const journal = join(blobsDir, 'refs.log');
    const bytes = await readFile(journal);
    bytes[11]! ^= 0x01;
    await writeFile(journal, bytes);
    const error = await t.throwsAsync(FileStorage2Blobs.open({ dir: blobsDir, syncMode: 'always' }, context()));
    t.is((error as { code?: string }).code, 'HANDLERTON_CORRUPTION');
    t.is((await readFile(journal)).length, bytes.length, 'nothing was truncated');
  } finally {
    await cleanup();
  }
});
