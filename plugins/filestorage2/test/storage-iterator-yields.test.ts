/** A long iteration gives the event loop turns (it used to hold the loop until the last transaction). */
import test from 'ava';
import { storageTransaction } from '@handlerton/framework';
import { bytes, openStorage, tempDir } from './fs2-helpers.js';

test('iterating many transactions lets timers and I/O run in between', async (t) => {
  const { dir, cleanup } = await tempDir('fs2-iter-yield-');
  try {
    const storage = await openStorage(dir, { syncMode: 'none' });
    const payload = bytes('x'.repeat(2000));
    for (let i = 0; i < 4000; i++) {
      const txn = storageTransaction();
      await storage.tpcBegin(txn);
      for (let r = 0; r < 4; r++) await storage.store(await storage.newOid(), 0n, { data: payload, refs: { oids: [], blobs: [] } }, txn);
      await storage.tpcVote(txn);
      await storage.tpcFinish(txn);
    }
    let turns = 0;
    let longest = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      turns++;
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 1);
    const started = performance.now();
    let count = 0;
    for await (const txn of storage.iterator()) count += txn.records.length > 0 ? 1 : 0;
    const elapsed = performance.now() - started;
    clearInterval(timer);
    t.is(count, 4000);
    t.log(`iterated 4000 transactions in ${elapsed.toFixed(1)} ms with ${turns} timer turns`);
    // The iterator yields at least every 10 ms, so an iteration this long must let the timer run.
    if (elapsed >= 40) t.true(turns >= 2, `no timer ran during ${elapsed.toFixed(1)} ms of iteration`);
    else t.pass(`iteration too fast (${elapsed.toFixed(1)} ms) to tell`);
    await storage.close();
  } finally {
    await cleanup();
  }
});
