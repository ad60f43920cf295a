/**
 * Found by the torture harness (issue 12): concurrent db.transaction calls with `retries` that
 * conflict on one record livelocked on FileStorage2. The winner of the race had finished (tpcFinish)
 * and waited in the group commit for its fdatasync, so the engine already reported conflicts against
 * it while lastTransaction() did not show it yet; each retry read the old revision again, and since
 * a retry never left the microtask queue, the fdatasync's completion never ran: the retries ran out
 * (ConflictError after thousands of attempts) and none of the increments committed. A retry now
 * lets the event loop turn and waits for the winning commit to become visible.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, ROOT_OID } from '@handlerton/framework';

test('concurrent read-modify-write transactions with retries all commit (no livelock behind the group commit)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fs2-conflict-retry-'));
  const db = await openDatabase({ engine: 'filestorage2', path: join(dir, 'data') });
  try {
    await db.transaction(async (tx) => tx.write(ROOT_OID, new Uint8Array([0])));
    let calls = 0;
    const increment = (): Promise<void> =>
      db.transaction(
        async (tx) => {
          calls++;
          const current = await tx.read(ROOT_OID);
          await tx.write(ROOT_OID, new Uint8Array([(current.data[0] ?? 0) + 1]));
        },
        { retries: 500 },
      );
    await Promise.all(Array.from({ length: 8 }, increment));
    const snapshot = await db.snapshot();
    try {
      t.is((await snapshot.read(ROOT_OID)).data[0], 8, 'every increment committed exactly once');
    } finally {
      await snapshot.close();
    }
    t.true(calls >= 8);
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
