import test from 'ava';
import { PackInProgressError, POSKeyError } from '@handlerton/framework';
import type { BlobRef, PackObserver } from '@handlerton/framework';
import { collect, commit, consecutiveStorage, text } from './helpers.js';

function blob(blobId: bigint, revision: bigint): BlobRef {
  return { handlerton: 'memory', blobId, revision };
}

function recordingObserver(): PackObserver & { released: BlobRef[] } {
  const released: BlobRef[] = [];
  return { released, async releaseBlobRefs(refs) { released.push(...refs); } };
}

test('pack drops revisions older than the one current at packTid and keeps the rest', async (t) => {
  const s = consecutiveStorage();
  const v1 = await commit(s, [[1n, 0n, 'v1'], [2n, 0n, 'other']]);
  const v2 = await commit(s, [[1n, v1, 'v2']]);
  const v3 = await commit(s, [[1n, v2, 'v3']]);
  const v4 = await commit(s, [[1n, v3, 'v4']]);
  const result = await s.pack(v3);
  t.deepEqual(result, { removedRevisions: 2, removedObjects: 0, reclaimedBytes: 4 });
  await t.throwsAsync(s.loadSerial(1n, v1), { instanceOf: POSKeyError });
  await t.throwsAsync(s.loadSerial(1n, v2), { instanceOf: POSKeyError });
  t.is(text(await s.loadSerial(1n, v3)), 'v3');
  t.is(text(await s.load(1n)), 'v4');
  t.like(await s.loadBefore(1n, v4), { tid: v3, nextTid: v4 });
  t.is(await s.loadBefore(1n, v3), null, 'nothing older survives');
  t.is(text(await s.load(2n)), 'other', 'an object with one revision is untouched');
  t.deepEqual((await s.history(1n, 10)).map((h) => h.tid), [v4, v3]);
});

test('pack removes objects deleted at packTid, but not objects deleted after it', async (t) => {
  const s = consecutiveStorage();
  const a = await commit(s, [[1n, 0n, 'a'], [2n, 0n, 'b']]);
  const delA = await commit(s, [[1n, a, null]]);
  const delB = await commit(s, [[2n, a, null]]);
  const result = await s.pack(delA);
  t.like(result, { removedRevisions: 2, removedObjects: 1 });
  await t.throwsAsync(s.loadBefore(1n, delA), { instanceOf: POSKeyError });
  await t.throwsAsync(s.history(1n), { instanceOf: POSKeyError });
  t.like(await s.loadBefore(2n, delB), { tid: a, nextTid: delB });
});

test('pack reports the blob refs of every removed revision', async (t) => {
  const s = consecutiveStorage();
  const v1 = await commit(s, [[1n, 0n, 'a', [blob(7n, 1n)]], [2n, 0n, 'b', [blob(8n, 1n)]]]);
  const v2 = await commit(s, [[1n, v1, 'a2', [blob(7n, 2n)]], [2n, v1, null]]);
  await commit(s, [[1n, v2, 'a3', [blob(7n, 3n)]]]);
  const observer = recordingObserver();
  await s.pack(v2, observer);
  t.deepEqual(
    observer.released.map((r) => [r.blobId, r.revision]).sort(),
    [[7n, 1n], [8n, 1n]].sort(),
  );
});

test('pack rewrites the iterator log: status p, emptied transactions dropped', async (t) => {
  const s = consecutiveStorage();
  const v1 = await commit(s, [[1n, 0n, 'a'], [2n, 0n, 'b']]);
  const v2 = await commit(s, [[1n, v1, 'a2']]);
  const v3 = await commit(s, [[1n, v2, 'a3']]);
  const empty = await commit(s, []);
  await s.pack(v3);
  const txns = await collect(s.iterator());
  t.deepEqual(txns.map((x) => [x.tid, x.status, x.records.map((r) => r.oid)]), [
    [v1, 'p', [2n]],
    [v3, ' ', [1n]],
    [empty, ' ', []],
  ]);
});

test('packing an empty storage, before all data, in the future or redundantly is harmless', async (t) => {
  const s = consecutiveStorage();
  t.like(await s.pack(0n), { removedRevisions: 0 });
  const v1 = await commit(s, [[1n, 0n, 'a']]);
  const v2 = await commit(s, [[1n, v1, 'b']]);
  t.like(await s.pack(0n), { removedRevisions: 0 });
  t.like(await s.pack(1n << 60n), { removedRevisions: 1 });
  t.like(await s.pack(v1), { removedRevisions: 0 });
  t.is(text(await s.load(1n)), 'b');
  t.is(text(await s.loadSerial(1n, v2)), 'b');
});

test('a second pack while one runs raises PackInProgressError; commits go on during a pack', async (t) => {
  const s = consecutiveStorage();
  const writes = Array.from({ length: 3000 }, (_, i) => [BigInt(i + 1), 0n, `v1-${i}`] as const);
  const v1 = await commit(s, writes);
  const v2 = await commit(s, writes.map(([oid]) => [oid, v1, `v2-${oid}`] as const));
  const packing = s.pack(v2);
  await t.throwsAsync(s.pack(v2), { instanceOf: PackInProgressError });
  let serial = v2;
  for (let i = 0; i < 5; i++) serial = await commit(s, [[2999n, serial, `during-${i}`], [BigInt(4000 + i), 0n, 'new']]);
  const result = await packing;
  t.is(result.removedRevisions, 3000);
  t.is(text(await s.load(2999n)), 'during-4');
  t.is(text(await s.load(3000n)), 'v2-3000');
  t.is(text(await s.load(4004n)), 'new');
  t.is((await s.history(2999n, 10)).length, 6);
  t.like(await s.pack(serial), { removedRevisions: 5 });
});
