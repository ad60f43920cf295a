import test from 'ava';
import { isHandlertonError } from '@handlerton/framework';
import { commit, loadText, openStorage, segmentFiles, tempDir, text } from './fs2-helpers.js';

/** A tiny deterministic PRNG (tests print no seed: it is fixed). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('automatic sealing: many segments, every revision reachable, against a model', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const random = rng(42);
    const s = await openStorage(dir, { segmentSize: 8192, syncMode: 'none' });
    const model = new Map<bigint, { tid: bigint; data: string | null }[]>();
    const current = (oid: bigint) => model.get(oid)?.at(-1);
    for (let round = 0; round < 200; round++) {
      const writes = [];
      const picked = new Set<bigint>();
      for (let k = 0; k < 4; k++) {
        const oid = BigInt(1 + Math.floor(random() * 60));
        if (picked.has(oid)) continue;
        picked.add(oid);
        const cur = current(oid);
        const serial = cur && cur.data !== null ? cur.tid : 0n;
        const del = cur && cur.data !== null && random() < 0.1;
        writes.push({ oid, serial, data: del ? null : `v${round}-${oid}-${'z'.repeat(Math.floor(random() * 200))}` });
      }
      const tid = await commit(s, writes);
      for (const w of writes) {
        const list = model.get(w.oid) ?? [];
        list.push({ tid, data: w.data });
        model.set(w.oid, list);
      }
    }
    t.true(s.sealedSegmentCount >= 10, `sealed ${s.sealedSegmentCount}`);
    const verify = async (st: typeof s): Promise<void> => {
      for (const [oid, revs] of model) {
        const cur = revs.at(-1)!;
        if (cur.data === null) t.true(isHandlertonError(await t.throwsAsync(st.load(oid)), 'HANDLERTON_POS_KEY'));
        else t.is(await loadText(st, oid), cur.data);
        for (let i = 0; i < revs.length; i++) {
          const rev = revs[i]!;
          if (rev.data === null) continue; // a delete: loadBefore raises (checked below)
          t.is(text((await st.loadSerial(oid, rev.tid)).data), rev.data);
          const before = await st.loadBefore(oid, rev.tid + 1n);
          t.is(before?.tid, rev.tid);
          t.is(before?.nextTid, revs[i + 1]?.tid ?? null);
          if (i === 0) t.is(await st.loadBefore(oid, rev.tid), null);
        }
        const hist = await st.history(oid, 1000);
        t.deepEqual(hist.map((h) => h.tid), revs.map((r) => r.tid).reverse());
      }
    };
    // deleted revisions make loadBefore raise; check that separately
    for (const [oid, revs] of model) {
      const del = revs.find((r) => r.data === null);
      if (del) t.true(isHandlertonError(await t.throwsAsync(s.loadBefore(oid, del.tid + 1n)), 'HANDLERTON_POS_KEY'));
    }
    await verify(s);
    await s.close();
    t.true(segmentFiles(dir).length >= 11);
    const r = await openStorage(dir);
    await verify(r);
    await r.close();
  } finally {
    await cleanup();
  }
});

for (const syncMode of ['batch', 'none'] as const) {
  test(`syncMode ${syncMode}: commits are visible at once and survive a clean close`, async (t) => {
    const { dir, cleanup } = await tempDir();
    try {
      const s = await openStorage(dir, { syncMode });
      let serial = 0n;
      for (let i = 0; i < 20; i++) serial = await commit(s, [{ oid: 1n, serial, data: `n${i}` }]);
      t.is(await loadText(s, 1n), 'n19');
      await s.close();
      const r = await openStorage(dir);
      t.is(await loadText(r, 1n), 'n19');
      t.is(r.lastTransaction(), serial);
      await r.close();
    } finally {
      await cleanup();
    }
  });
}
