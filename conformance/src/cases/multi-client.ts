/**
 * Multi-client: several processes open the same database at once (engines claiming `multiClient`,
 * through the harness's clientConfig). The other clients are child processes (multi/client.ts);
 * the case's own Database is one more client.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isHandlertonError, type Database, type Oid } from '@handlerton/framework';
import { blobBytes, decodeU32, digestStream, encodeU32, expectedBlobDigest } from '../multi/codec.js';
import type { ClientRole } from '../multi/protocol.js';
import { ClientProcess, killAll } from '../multi/spawn.js';
import type { CaseContext, Requirement } from '../types.js';
import { defineArea } from './define.js';

const NEEDS: readonly Requirement[] = ['multiClient', 'harness.clients'];
/** How long the survivors may take to commit after a client was killed holding the commit lock. */
const UNLOCK_BOUND_MS = 20_000;

/** Runs `body` with a `start(role)` that spawns clients on the case's database, all killed afterwards. */
async function withClients(ctx: CaseContext, body: (start: (role: ClientRole) => ClientProcess) => Promise<void>): Promise<void> {
  const clients: ClientProcess[] = [];
  const config = ctx.clientConfig();
  try {
    await body((role) => {
      const client = ClientProcess.start({ config, preload: [], role }, `${role.kind}#${clients.length}`);
      clients.push(client);
      return client;
    });
  } finally {
    await killAll(clients);
  }
}

/** Creates `count` counter objects holding 0 in one transaction. */
async function counters(db: Database, count: number): Promise<Oid[]> {
  return db.transaction(async (tx) => {
    const out: Oid[] = [];
    for (let i = 0; i < count; i++) out.push(await tx.create(encodeU32(0)));
    return out;
  });
}

/** The counter values in a snapshot started now. */
async function values(db: Database, oids: readonly Oid[]): Promise<number[]> {
  const snapshot = await db.snapshot();
  try {
    const out: number[] = [];
    for (const oid of oids) out.push(decodeU32((await snapshot.read(oid)).data));
    return out;
  } finally {
    await snapshot.close();
  }
}

/** The ACK lines a client printed so far, as [n, tid]. */
function acks(client: ClientProcess): Array<readonly [number, bigint]> {
  return client.lines.filter((l) => l.type === 'ack').map((l) => [Number(l.words[0]), BigInt(l.words[1] ?? '0')] as const);
}

/** Awaits `promise`, failing when it takes longer than `ms`; returns the time it took. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<number> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
  return performance.now() - started;
}

export const multiClientCases = defineArea('multi-client', [
  {
    id: 'concurrent-clients-vs-serial-model',
    title: 'three client processes increment their own and a shared counter concurrently: every total exact, every commit its own increasing tid',
    source: 'issue 14',
    rule: ['capabilities.ts#StorageCapabilities.multiClient'],
    requires: NEEDS,
    run: async (ctx) => {
      const db = await ctx.database();
      const rounds = 10;
      const [shared, ...own] = await counters(db, 4);
      await withClients(ctx, async (start) => {
        const clients = own.map((oid) => start({ kind: 'counter', own: oid.toString(), shared: shared!.toString(), rounds }));
        await Promise.all(clients.map((c) => c.finished()));
        assert.deepEqual(await values(db, [shared!, ...own]), [3 * rounds, rounds, rounds, rounds], 'shared counter = all increments, own counters = each client\'s');
        const tids = clients.flatMap((c) => acks(c).map(([, tid]) => tid));
        assert.equal(tids.length, 3 * rounds);
        assert.equal(new Set(tids).size, tids.length, 'every commit of every client has its own tid');
        for (const c of clients) {
          const own = acks(c).map(([, tid]) => tid);
          assert.ok(own.every((tid, i) => i === 0 || tid > own[i - 1]!), 'a client\'s tids increase');
        }
        if (ctx.storage.capabilities.history) {
          const history = await ctx.storage.history(shared!, 4 * rounds);
          const committed = history.map((h) => h.tid).filter((tid) => tids.includes(tid));
          assert.equal(committed.length, 3 * rounds, 'the shared counter\'s history holds every acknowledged commit');
          assert.ok(committed.every((tid, i) => i === 0 || tid < committed[i - 1]!), 'history is in strict tid order across clients');
        }
      });
    },
  },
  {
    id: 'stale-serial-conflicts-across-clients',
    title: 'a write based on a revision another client has since replaced raises ConflictError, in a child and in this process',
    source: 'issue 14',
    rule: ['capabilities.ts#StorageCapabilities.multiClient', 'storage.ts#Storage.store'],
    requires: NEEDS,
    run: async (ctx) => {
      const db = await ctx.database();
      const [oid] = await counters(db, 1);
      await withClients(ctx, async (start) => {
        // The child read 0, then this process commits 100: the child's write of 1 is stale.
        const child = start({ kind: 'read-then-write', oid: oid!.toString() });
        assert.equal((await child.next('read')).words[0], '0');
        await db.transaction(async (tx) => tx.write(oid!, encodeU32(100)));
        child.send('GO');
        assert.equal((await child.next('conflict')).words[0], 'HANDLERTON_CONFLICT', 'the child\'s stale write conflicts');
        await child.finished();
        // This process reads 100, a child commits 101: this process's write is stale.
        const tx = db.begin();
        assert.equal(decodeU32((await tx.read(oid!)).data), 100);
        const writer = start({ kind: 'pair-writer', oids: [oid!.toString()], rounds: 1 });
        await writer.finished();
        await tx.write(oid!, encodeU32(500));
        await assert.rejects(tx.commit(), (e: unknown) => isHandlertonError(e, 'HANDLERTON_CONFLICT'), 'this process\'s stale write conflicts');
        assert.deepEqual(await values(db, [oid!]), [101]);
      });
    },
  },
  {
    id: 'snapshot-isolation-across-clients',
    title: 'snapshots never see part of another client\'s transaction, and see every commit acknowledged before they started, both ways',
    source: 'issue 14',
    rule: ['capabilities.ts#StorageCapabilities.multiClient', 'storage.ts#Storage.sync'],
    requires: NEEDS,
    run: async (ctx) => {
      const db = await ctx.database();
      const oids = await counters(db, 4);
      const rounds = 25;
      await withClients(ctx, async (start) => {
        const writer = start({ kind: 'pair-writer', oids: oids.map(String), rounds });
        let done = false;
        void writer.exited.then(() => (done = true));
        let snapshots = 0;
        while (!done) {
          const acked = Math.max(0, ...acks(writer).map(([n]) => n));
          const seen = await values(db, oids);
          assert.ok(seen.every((v) => v === seen[0]), `a snapshot saw part of a transaction: ${seen.join(',')}`);
          assert.ok(seen[0]! >= acked, `a snapshot started after commit ${acked} was acknowledged saw only ${seen[0]}`);
          snapshots++;
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        await writer.finished();
        ctx.note(`${snapshots} snapshots while the other client committed`);
        assert.ok(snapshots > 0);
        assert.deepEqual(await values(db, oids), [rounds, rounds, rounds, rounds]);
        // The other way: this process commits; a transaction started afterwards in a child sees it.
        await db.transaction(async (tx) => tx.write(oids[0]!, encodeU32(7_000)));
        const reader = start({ kind: 'read-then-write', oid: oids[0]!.toString() });
        assert.equal((await reader.next('read')).words[0], '7000', 'a child transaction started after this commit sees it');
        reader.send('GO');
        await reader.next('ack');
        await reader.finished();
      });
    },
  },
  {
    id: 'blob-written-by-one-streamed-by-another',
    title: 'a blob committed by one client streams byte-exact in another, both ways',
    source: 'issue 14',
    rule: ['capabilities.ts#StorageCapabilities.multiClient'],
    requires: [...NEEDS, 'mode.dataTransactional'],
    run: async (ctx) => {
      const db = await ctx.database();
      const size = 1536 * 1024 + 123;
      const oid = await db.transaction(async (tx) => {
        const blob = await tx.createBlob();
        const handle = await blob.open('w');
        try {
          await pipeline(Readable.from(blobBytes(7, size)), handle.createWriteStream());
        } finally {
          await handle.close();
        }
        return blob.oid;
      });
      const want = expectedBlobDigest(7, size);
      await withClients(ctx, async (start) => {
        const reader = start({ kind: 'blob-read', oid: oid.toString() });
        const seen = await reader.next('blob');
        assert.deepEqual(seen.words, [oid.toString(), String(want.size), want.sha256], 'the child streamed the blob this process wrote');
        const writer = start({ kind: 'blob-write', size: 700 * 1024 + 5, seed: 9 });
        const [written, writtenSize, writtenHash] = (await writer.next('blob')).words;
        await Promise.all([reader.finished(), writer.finished()]);
        const snapshot = await db.snapshot();
        try {
          const handle = await (await snapshot.blob(BigInt(written!))).open('r');
          try {
            const got = await digestStream(handle.createReadStream());
            assert.deepEqual([String(got.size), got.sha256], [writtenSize, writtenHash], 'this process streamed the blob the child wrote');
          } finally {
            await handle.close();
          }
        } finally {
          await snapshot.close();
        }
      });
    },
  },
  {
    id: 'pack-while-clients-commit',
    title: 'packing in one client while two others commit loses no committed data; readers see at most ReadConflictError',
    source: 'issue 14',
    rule: ['capabilities.ts#StorageCapabilities.multiClient', 'storage.ts#Storage.pack', 'storage.ts#Storage.packHorizon'],
    requires: [...NEEDS, 'pack'],
    run: async (ctx) => {
      const db = await ctx.database();
      const rounds = 15;
      const [shared, ...own] = await counters(db, 3);
      await withClients(ctx, async (start) => {
        const clients = own.map((oid) => start({ kind: 'counter', own: oid.toString(), shared: shared!.toString(), rounds }));
        let running = clients.length;
        for (const c of clients) void c.exited.then(() => running--);
        let packs = 0;
        let readConflicts = 0;
        while (running > 0) {
          await db.pack();
          packs++;
          // Let the clients' exits in (an in-process engine may resolve everything without I/O).
          await new Promise((resolve) => setTimeout(resolve, 5));
          try {
            const seen = await values(db, [shared!, ...own]);
            assert.equal(seen[0], seen[1]! + seen[2]!, `the shared counter disagrees with the own ones: ${seen.join(',')}`);
          } catch (error) {
            if (!isHandlertonError(error, 'HANDLERTON_READ_CONFLICT')) throw error;
            readConflicts++;
          }
        }
        await Promise.all(clients.map((c) => c.finished()));
        ctx.note(`${packs} packs, ${readConflicts} read conflicts`);
        assert.ok(packs > 0);
        await db.pack();
        assert.deepEqual(await values(db, [shared!, ...own]), [2 * rounds, rounds, rounds], 'every increment survived the packs');
      });
    },
  },
  {
    id: 'sigkill-mid-commit-leaves-no-lock',
    title: 'a client SIGKILLed after vote or between commits leaves no lock: others commit within a bound, its transaction is all or nothing',
    source: 'issue 14',
    rule: ['capabilities.ts#StorageCapabilities.multiClient', 'storage.ts#invariants'],
    requires: NEEDS,
    run: async (ctx) => {
      const db = await ctx.database();
      const oids = await counters(db, 3);
      await withClients(ctx, async (start) => {
        const hung = start({ kind: 'vote-and-hang', oids: oids.map(String), value: 99 });
        await hung.next('voted');
        await hung.kill();
        const took = await within(UNLOCK_BOUND_MS, 'a commit after the voted client was killed', db.transaction(async (tx) => {
          for (const oid of oids) await tx.write(oid, encodeU32(1));
        }));
        ctx.note(`commit after the kill took ${Math.round(took)} ms`);
        assert.deepEqual(await values(db, oids), [1, 1, 1], 'the killed client\'s voted transaction never became visible');
        const writer = start({ kind: 'pair-writer', oids: oids.map(String), rounds: 0 });
        await writer.next('ack');
        await writer.next('ack');
        await new Promise((resolve) => setTimeout(resolve, ctx.randomInt(30)));
        await writer.kill();
        const acked = Math.max(...acks(writer).map(([n]) => n));
        const seen = await values(db, oids);
        assert.ok(seen.every((v) => v === seen[0]), `the killed client's transaction was applied in part: ${seen.join(',')}`);
        assert.ok(seen[0] === acked || seen[0] === acked + 1, `after the kill the value is ${seen[0]}, acknowledged ${acked}`);
        await within(UNLOCK_BOUND_MS, 'a commit after the writer was killed', db.transaction(async (tx) => {
          for (const oid of oids) await tx.write(oid, encodeU32(seen[0]! + 10));
        }));
        assert.deepEqual(await values(db, oids), oids.map(() => seen[0]! + 10));
      });
    },
  },
]);
