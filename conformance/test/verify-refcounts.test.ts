/**
 * The generic verify compares a dataTransactional handlerton's refcounts with the record revisions
 * that reference each blob revision (one reference per record revision, added at commit, released by
 * pack): a count one too low (a reclaim could delete a revision records still name) or one too high
 * (a leak) is a problem; a consistent database, packed or not, has none.
 */
import test from 'ava';
import { blobTransaction, openDatabase, verifyAll, type BlobRef } from '@handlerton/framework';

type Opened = Awaited<ReturnType<typeof openDatabase>> & Parameters<typeof verifyAll>[0];

async function withBlob(body: (db: Opened, ref: BlobRef) => Promise<void>): Promise<void> {
  const db = (await openDatabase('memory')) as Opened;
  try {
    const oid = await db.transaction(async (tx) => {
      const blob = await tx.createBlob();
      const writer = await blob.open('w');
      await writer.write(new TextEncoder().encode('some bytes'));
      await writer.close();
      return blob.oid;
    });
    // the blob object's record (as the storage keeps it) references its revision
    let revision: BlobRef | undefined;
    for await (const txn of db.storage.iterator()) {
      for (const rec of txn.records) if (rec.oid === oid && rec.record !== null) revision = rec.record.refs.blobs[0];
    }
    if (revision === undefined) throw new Error('the blob record references no revision');
    await body(db, revision);
  } finally {
    await db.close();
  }
}

test('verify reports a refcount lower or higher than the references records hold, and none when they agree', async (t) => {
  await withBlob(async (db, ref) => {
    const clean = await verifyAll(db);
    t.deepEqual(clean.problems, []);
    const counted = await db.blobs.refcount(ref.blobId, ref.revision);
    t.is(counted, 1, 'one record revision references it');
    // one reference too many: the revision would never be reclaimed
    const txn = blobTransaction('extra');
    await db.blobs.addReferences(txn, [ref]);
    await db.blobs.prepare(txn, ref.revision + 1n);
    await db.blobs.commit(txn);
    const high = await verifyAll(db);
    t.is(high.problems.length, 1, JSON.stringify(high.problems));
    t.regex(high.problems[0]!.message, /refcount is 2, but 1 record revision\(s\) reference it.*leaks/);
    // both dropped: a reclaim may delete a revision a record still names
    await db.blobs.releaseReferences([ref, ref]);
    const low = await verifyAll(db);
    t.true(
      low.problems.some((p) => /refcount is 0, but 1 record revision\(s\) reference it.*reclaim could delete it/.test(p.message)),
      JSON.stringify(low.problems),
    );
  });
});
