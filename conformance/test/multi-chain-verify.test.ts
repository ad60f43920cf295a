/** The torture's verifier (multi/chain.ts) finds lost acknowledged commits, wrong tids, partial transactions and broken chains. */
import test from 'ava';
import { openDatabase, type Database, type Oid } from '@handlerton/framework';
import { chainStep, encodeJson, verifyChains } from '../src/multi/chain.js';
import { encodeU32 } from '../src/multi/codec.js';

async function setup(db: Database): Promise<{ shared: Oid; heads: Oid[] }> {
  return db.transaction(async (tx) => ({
    shared: await tx.create(encodeU32(0)),
    heads: [await tx.create(encodeJson({ seq: 0, last: null })), await tx.create(encodeJson({ seq: 0, last: null }))],
  }));
}

async function check(db: Database, heads: Oid[], shared: Oid, acks: Map<number, { tid: bigint; oid: string }>[]): Promise<string[]> {
  const snapshot = await db.snapshot();
  try {
    return (await verifyChains(snapshot, heads, shared, acks)).problems;
  } finally {
    await snapshot.close();
  }
}

test('two chains with blobs verify clean, and each kind of damage is reported', async (t) => {
  const db = await openDatabase('memory:');
  try {
    const { shared, heads } = await setup(db);
    const acks = [new Map<number, { tid: bigint; oid: string }>(), new Map<number, { tid: bigint; oid: string }>()];
    for (const [client, count] of [[0, 3], [1, 2]] as const) {
      for (let seq = 1; seq <= count; seq++) {
        const oid = await chainStep(db, { head: heads[client]!, shared, client, blobEvery: 2 }, seq);
        acks[client]!.set(seq, { tid: db.lastTransaction(), oid: oid.toString() });
      }
    }
    t.deepEqual(await check(db, heads, shared, acks), []);

    const lost = [new Map(acks[0]).set(4, { tid: 1n, oid: '999' }), acks[1]!];
    t.regex((await check(db, heads, shared, lost)).join('\n'), /client 0: acknowledged commit 4 is lost/);

    const wrongTid = [new Map(acks[0]).set(2, { ...acks[0]!.get(2)!, tid: 5n }), acks[1]!];
    t.regex((await check(db, heads, shared, wrongTid)).join('\n'), /commit 2 acknowledged as record .* at tid 5/);

    await db.transaction(async (tx) => tx.write(shared, encodeU32(99)));
    t.regex((await check(db, heads, shared, acks)).join('\n'), /shared counter is 99, the heads sum to 5: a transaction was applied in part/);
    await db.transaction(async (tx) => tx.write(shared, encodeU32(5)));

    await db.transaction(async (tx) => tx.write(heads[1]!, encodeJson({ seq: 3, last: acks[1]!.get(2)!.oid })));
    await db.transaction(async (tx) => tx.write(shared, encodeU32(6)));
    t.regex((await check(db, heads, shared, acks)).join('\n'), /client 1: record \d+ is \(1, 2\), expected \(1, 3\)/);
  } finally {
    await db.close();
  }
});

test('chainStep refuses to extend a head that another writer moved', async (t) => {
  const db = await openDatabase('memory:');
  try {
    const { shared, heads } = await setup(db);
    await chainStep(db, { head: heads[0]!, shared, client: 0, blobEvery: 0 }, 1);
    await t.throwsAsync(chainStep(db, { head: heads[0]!, shared, client: 0, blobEvery: 0 }, 1), { message: /head is at 1, expected 0/ });
  } finally {
    await db.close();
  }
});
