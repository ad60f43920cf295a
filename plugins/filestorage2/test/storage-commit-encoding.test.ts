/** Commit encoding: records encoded at store time, replaced stores, aborts, grown buffers and batched writes. */
import * as fs from 'node:fs';
import test from 'ava';
import { isHandlertonError, NO_REFS, storageTransaction, type IteratedTransaction } from '@handlerton/framework';
import type { FileStorage2 } from '../src/storage/filestorage2.js';
import { bytes, commit, loadText, openStorage, tempDir, text } from './fs2-helpers.js';

async function transactions(s: FileStorage2): Promise<IteratedTransaction[]> {
  const out: IteratedTransaction[] = [];
  for await (const t of s.iterator()) out.push(t);
  return out;
}

test('a second store of an oid in the same transaction replaces the first one', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    let s = await openStorage(dir);
    const t1 = await commit(s, [
      { oid: 1n, serial: 0n, data: 'one' },
      { oid: 2n, serial: 0n, data: 'two' },
    ]);
    const txn = storageTransaction({ description: 'replace' });
    await s.tpcBegin(txn);
    await s.store(1n, t1, { data: bytes('first try'), refs: NO_REFS }, txn);
    await s.store(3n, 0n, { data: bytes('three'), refs: NO_REFS }, txn);
    await s.store(1n, t1, { data: bytes('second try, longer than the first'), refs: NO_REFS }, txn);
    await s.deleteObject(2n, t1, txn);
    await s.store(4n, 0n, { data: bytes('four'), refs: NO_REFS }, txn);
    await s.restore(4n, { data: bytes('four restored'), refs: NO_REFS }, txn);
    await s.tpcVote(txn);
    const t2 = await s.tpcFinish(txn);
    const check = async (label: string): Promise<void> => {
      t.is(await loadText(s, 1n), 'second try, longer than the first', label);
      t.is(await loadText(s, 2n), null, label);
      t.is(await loadText(s, 3n), 'three', label);
      t.is(await loadText(s, 4n), 'four restored', label);
      t.deepEqual((await s.history(1n, 10)).map((h) => h.tid), [t2, t1], label);
      const last = (await transactions(s)).at(-1)!;
      t.is(last.tid, t2, label);
      t.deepEqual(
        last.records.map((r) => [r.oid, r.record === null ? null : text(r.record.data)]),
        [
          [3n, 'three'],
          [1n, 'second try, longer than the first'],
          [2n, null],
          [4n, 'four restored'],
        ],
        label,
      );
    };
    await check('before reopen');
    await s.close();
    s = await openStorage(dir); // the scan checks every checksum and prev pointer
    await check('after reopen');
    await s.seal();
    await check('after seal');
    await s.close();
  } finally {
    await cleanup();
  }
});

test('aborted transactions leave nothing behind, voted or not', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    let s = await openStorage(dir);
    const a = storageTransaction({ description: 'aborted before vote' });
    await s.tpcBegin(a);
    await s.store(1n, 0n, { data: bytes('never'), refs: NO_REFS }, a);
    await s.tpcAbort(a);
    const b = storageTransaction({ description: 'aborted after vote' });
    await s.tpcBegin(b);
    await s.store(2n, 0n, { data: bytes('never either'), refs: NO_REFS }, b);
    await s.tpcVote(b);
    await s.tpcAbort(b);
    const tid = await commit(s, [{ oid: 3n, serial: 0n, data: 'kept' }]);
    t.is(await loadText(s, 1n), null);
    t.is(await loadText(s, 2n), null);
    t.is(await loadText(s, 3n), 'kept');
    await s.close();
    s = await openStorage(dir);
    t.deepEqual((await transactions(s)).map((x) => x.tid), [tid]);
    t.is(await loadText(s, 3n), 'kept');
    await s.close();
  } finally {
    await cleanup();
  }
});

test('concurrent committers with small and large records: every record reads back after reopen', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    let batchedWrites = 0;
    const counting = { ...fs, writev: ((...args: Parameters<typeof fs.writev>) => {
      batchedWrites++;
      return (fs.writev as (...a: unknown[]) => void)(...args);
    }) as typeof fs.writev };
    let s = await openStorage(dir, { segmentSize: 4 * 1024 * 1024 }, counting);
    const payload = (oid: bigint): string => `${oid}:`.padEnd(Number(oid % 7n === 0n ? 300_000n : 50n + (oid % 500n)), 'x');
    let next = 1n;
    const committer = async (): Promise<void> => {
      for (let i = 0; i < 12; i++) {
        const oids = [next, next + 1n, next + 2n];
        next += 3n;
        await commit(s, oids.map((oid) => ({ oid, serial: 0n, data: payload(oid) })));
      }
    };
    await Promise.all(Array.from({ length: 8 }, committer));
    const count = next - 1n;
    t.true(batchedWrites > 0, 'transactions queued behind an fdatasync are written together');
    for (let oid = 1n; oid <= count; oid++) t.is(await loadText(s, oid), payload(oid));
    await s.close();
    s = await openStorage(dir);
    for (let oid = 1n; oid <= count; oid++) t.is(await loadText(s, oid), payload(oid));
    t.is((await transactions(s)).length, 8 * 12);
    await s.close();
  } finally {
    await cleanup();
  }
});

test('new oids stored in any order by concurrent committers: a second store of one is still a conflict', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    let s = await openStorage(dir);
    await commit(s, [{ oid: 1n, serial: 0n, data: 'old' }]);
    await s.close();
    s = await openStorage(dir); // oids above 1 are fresh from here
    const a = await s.newOid();
    const b = await s.newOid();
    const c = await s.newOid();
    const tb = await commit(s, [{ oid: b, serial: 0n, data: 'b' }]);
    const aborted = storageTransaction({ description: 'aborted' });
    await s.tpcBegin(aborted);
    await s.store(c, 0n, { data: bytes('never'), refs: NO_REFS }, aborted);
    await s.tpcAbort(aborted);
    // the store of b again with serial 0 conflicts; a and c were never committed
    const txn = storageTransaction({ description: 'second' });
    await s.tpcBegin(txn);
    t.true(isHandlertonError(await t.throwsAsync(s.store(b, 0n, { data: bytes('again'), refs: NO_REFS }, txn)), 'HANDLERTON_CONFLICT'));
    await s.store(a, 0n, { data: bytes('a'), refs: NO_REFS }, txn);
    await s.store(c, 0n, { data: bytes('c'), refs: NO_REFS }, txn);
    await s.store(1n, (await s.history(1n, 1))[0]!.tid, { data: bytes('new'), refs: NO_REFS }, txn);
    await s.tpcVote(txn);
    await s.tpcFinish(txn);
    t.is(await loadText(s, a), 'a');
    t.is(await loadText(s, b), 'b');
    t.is(await loadText(s, c), 'c');
    t.is(await loadText(s, 1n), 'new');
    t.is((await s.history(b, 5)).length, 1);
    t.is((await s.history(b, 5))[0]!.tid, tb);
    await s.close();
  } finally {
    await cleanup();
  }
});
