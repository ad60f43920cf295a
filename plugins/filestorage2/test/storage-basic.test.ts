import test from 'ava';
import { isHandlertonError, NO_REFS, storageTransaction } from '@handlerton/framework';
import { bytes, commit, loadText, openStorage, segmentFiles, tempDir, text } from './fs2-helpers.js';

test('store, load, reopen', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    t.is(s.lastTransaction(), 0n);
    const oid = await s.newOid();
    t.is(oid, 1n, 'the root oid 0 is never handed out');
    const tid1 = await commit(s, [{ oid, serial: 0n, data: 'hello' }], 'first');
    t.is(s.lastTransaction(), tid1);
    const loaded = await s.load(oid);
    t.is(text(loaded.data), 'hello');
    t.is(loaded.tid, tid1);
    const tid2 = await commit(s, [{ oid, serial: tid1, data: 'world', refs: { oids: [5n], blobs: [] } }]);
    await s.close();

    const s2 = await openStorage(dir);
    t.is(s2.lastTransaction(), tid2);
    const again = await s2.load(oid);
    t.is(text(again.data), 'world');
    t.deepEqual(again.refs.oids, [5n]);
    t.is(text((await s2.loadSerial(oid, tid1)).data), 'hello');
    const before = await s2.loadBefore(oid, tid2);
    t.is(before?.tid, tid1);
    t.is(before?.nextTid, tid2);
    t.is(await s2.loadBefore(oid, tid1), null);
    const hist = await s2.history(oid, 10);
    t.deepEqual(hist.map((h) => h.tid), [tid2, tid1]);
    t.is(hist[1]!.description, 'first');
    t.is(await s2.newOid(), 2n);
    await s2.close();
  } finally {
    await cleanup();
  }
});

test('conflicts, deletes and POSKeyError', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const tid1 = await commit(s, [{ oid: 1n, serial: 0n, data: 'a' }]);
    const err = await t.throwsAsync(commit(s, [{ oid: 1n, serial: 0n, data: 'b' }]));
    t.true(isHandlertonError(err, 'HANDLERTON_CONFLICT'));
    const tid2 = await commit(s, [{ oid: 1n, serial: tid1, data: null }]);
    t.true(isHandlertonError(await t.throwsAsync(s.load(1n)), 'HANDLERTON_POS_KEY'));
    const prev = await s.loadBefore(1n, tid2);
    t.is(text(prev!.data), 'a');
    t.is(prev!.nextTid, tid2);
    t.true(isHandlertonError(await t.throwsAsync(s.load(99n)), 'HANDLERTON_POS_KEY'));
    t.true(isHandlertonError(await t.throwsAsync(commit(s, [{ oid: 1n, serial: tid2, data: null }])), 'HANDLERTON_POS_KEY'));
    await s.close();
  } finally {
    await cleanup();
  }
});

test('seal on demand, lookups and MVCC across segments', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const serials = new Map<bigint, bigint>();
    const tids: bigint[] = [];
    for (let round = 0; round < 5; round++) {
      const writes = [];
      for (let i = 0n; i < 50n; i++) {
        if ((Number(i) + round) % 3 === 0 || round === 0) writes.push({ oid: i, serial: serials.get(i) ?? 0n, data: `r${round}-o${i}` });
      }
      const tid = await commit(s, writes);
      for (const w of writes) serials.set(w.oid, tid);
      tids.push(tid);
      await s.seal();
    }
    t.is(s.sealedSegmentCount, 5);
    t.is(segmentFiles(dir).length, 6);
    await s.close();
    const r = await openStorage(dir);
    for (let i = 0n; i < 50n; i++) {
      let last = 0;
      for (let round = 0; round < 5; round++) if ((Number(i) + round) % 3 === 0 || round === 0) last = round;
      t.is(await loadText(r, i), `r${last}-o${i}`);
      // snapshot right after round 0
      const snap = await r.loadBefore(i, tids[0]! + 1n);
      t.is(text(snap!.data), `r0-o${i}`);
    }
    const hist = await r.history(3n, 100);
    t.deepEqual(hist.map((h) => text(new Uint8Array(0))).length, hist.length);
    t.true(hist.length >= 2);
    const seen: bigint[] = [];
    for await (const txn of r.iterator()) seen.push(txn.tid);
    t.deepEqual(seen, tids);
    const mid: bigint[] = [];
    for await (const txn of r.iterator(tids[1], tids[3])) mid.push(txn.tid);
    t.deepEqual(mid, tids.slice(1, 4));
    await r.close();
  } finally {
    await cleanup();
  }
});

test('2PC state errors and abort', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const txn = storageTransaction();
    t.true(isHandlertonError(await t.throwsAsync(s.store(1n, 0n, { data: bytes('x'), refs: NO_REFS }, txn)), 'HANDLERTON_STORAGE_TRANSACTION'));
    await s.tpcBegin(txn);
    await s.store(1n, 0n, { data: bytes('x'), refs: NO_REFS }, txn);
    await s.tpcVote(txn);
    await s.tpcAbort(txn);
    t.is(await loadText(s, 1n), null);
    const tid = await commit(s, [{ oid: 1n, serial: 0n, data: 'y' }]);
    t.is(await loadText(s, 1n), 'y');
    await s.close();
    const r = await openStorage(dir);
    t.is(r.lastTransaction(), tid);
    t.is(await loadText(r, 1n), 'y');
    await r.close();
    t.true(isHandlertonError(await t.throwsAsync(r.load(1n)), 'HANDLERTON_STORAGE_CLOSED'));
  } finally {
    await cleanup();
  }
});

test('oids above 2^53 work in the active index, sealed indexes and pack', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const big = (1n << 63n) + 5n;
    const near = (1n << 53n) + 1n;
    const t1 = await commit(s, [{ oid: big, serial: 0n, data: 'big' }, { oid: near, serial: 0n, data: 'near' }, { oid: 3n, serial: 0n, data: 'small' }]);
    t.is(await loadText(s, big), 'big');
    await s.seal();
    t.is(await loadText(s, big), 'big');
    t.is(await loadText(s, near), 'near');
    const t2 = await commit(s, [{ oid: big, serial: t1, data: 'bigger' }]);
    await s.pack(t2);
    t.is(await loadText(s, big), 'bigger');
    t.is(await loadText(s, near), 'near');
    t.is(await loadText(s, (1n << 63n) + 4n), null);
    t.true((await s.newOid()) > big);
    await s.close();
  } finally {
    await cleanup();
  }
});
