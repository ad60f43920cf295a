/** Concurrency: many transactions at once end in a state equal to a serial model. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isHandlertonError, type Oid, type Tid } from '@handlerton/framework';
import { readHandleText } from '../util/blob-io.js';
import { blobText, createBlobWith } from '../util/db-blobs.js';
import { collect, commit, createObject, sleep, text, ticks } from '../util/records.js';
import { assertValues, createObjects, disjointWrites, overlappingWrites } from '../util/db-commits.js';
import { defineArea } from './define.js';

const enc = new TextEncoder();

interface WorkerLog {
  reads: Map<Oid, string>;
  writes: Map<Oid, string>;
}

export const concurrencyCases = defineArea('concurrency', [
  {
    id: 'random-transactions-vs-serial-model',
    title: '40 concurrent transactions of random reads, writes and blob streams end equal to a serial replay in commit order',
    source: 'T91',
    rule: ['database.ts#Transaction', 'database.ts#TransactionOptions.retries'],
    requires: ['iterator'],
    run: async (ctx) => {
      const db = await ctx.database();
      const withBlobs = db.capabilities.blobs.mode === 'dataTransactional';
      const keys: Oid[] = await db.transaction(async (tx) => {
        const out: Oid[] = [];
        for (let i = 0; i < 8; i++) out.push(await tx.create(enc.encode(`init-${i}`)));
        return out;
      });
      const blobOids: Oid[] = [];
      if (withBlobs) for (let i = 0; i < 4; i++) blobOids.push(await createBlobWith(db, `blob-init-${i}`));
      const start = db.lastTransaction();
      const initial = new Map<Oid, string>();
      keys.forEach((k, i) => initial.set(k, `init-${i}`));
      blobOids.forEach((b, i) => initial.set(b, `blob-init-${i}`));
      const blobSet = new Set(blobOids);
      const logs = new Map<string, WorkerLog>();
      const failures: unknown[] = [];
      const worker = async (w: number): Promise<void> => {
        let attempt = 0;
        try {
          await db.transaction(
            async (tx) => {
              attempt += 1;
              if (attempt > 1) await sleep(Math.floor(Math.random() * Math.min(50, 3 * attempt)));
              const log: WorkerLog = { reads: new Map(), writes: new Map() };
              logs.set(`worker-${w}`, log);
              for (let r = 0; r < 3; r++) {
                const k = keys[ctx.randomInt(keys.length)]!;
                log.reads.set(k, text((await tx.read(k)).data));
                await ticks(ctx.randomInt(3));
              }
              const nWrites = 1 + ctx.randomInt(2);
              for (let i = 0; i < nWrites; i++) {
                const k = keys[ctx.randomInt(keys.length)]!;
                const value = `w${w}-a${attempt}-${i}`;
                await tx.write(k, enc.encode(value));
                log.writes.set(k, value);
                await ticks(ctx.randomInt(3));
              }
              if (withBlobs && ctx.random() < 0.5) {
                const b = blobOids[ctx.randomInt(blobOids.length)]!;
                log.reads.set(b, await blobText(tx, b));
                const content = `blob-w${w}-a${attempt}:` + 'x'.repeat(ctx.randomInt(3) * 20_000);
                const h = await (await tx.blob(b)).open('w');
                await pipeline(Readable.from([Buffer.from(content.slice(0, 10)), Buffer.from(content.slice(10))]), h.createWriteStream());
                await h.close();
                log.writes.set(b, content);
              }
            },
            { retries: 30, meta: { description: `worker-${w}` } },
          );
        } catch (e) {
          if (!isHandlertonError(e, 'HANDLERTON_CONFLICT')) failures.push(e);
          logs.delete(`worker-${w}`);
        }
      };
      await Promise.all(Array.from({ length: 40 }, (_, w) => worker(w)));
      assert.deepEqual(failures, [], 'no transaction failed except by exhausting conflict retries');
      const committed = (await collect(ctx.storage.iterator(start + 1n))).filter((t) => t.meta.description.startsWith('worker-'));
      assert.ok(committed.length >= 32, `at least 32 of 40 transactions committed (got ${committed.length})`);
      assert.equal(committed.length, logs.size, 'every transaction that reported success is in the history, once');
      const model = new Map(initial);
      const states: Map<Oid, string>[] = [new Map(model)];
      for (const t of committed) {
        const log = logs.get(t.meta.description);
        assert.ok(log !== undefined, `${t.meta.description} committed but reported failure`);
        assert.deepEqual(t.records.map((r) => r.oid).sort(), [...log.writes.keys()].sort(), `${t.meta.description} wrote exactly its writes`);
        for (const r of t.records) {
          if (!blobSet.has(r.oid)) assert.equal(text(r.record!.data), log.writes.get(r.oid));
          model.set(r.oid, log.writes.get(r.oid)!);
        }
        states.push(new Map(model));
      }
      for (const t of committed) {
        const log = logs.get(t.meta.description)!;
        const index = committed.indexOf(t);
        const consistent = states.slice(0, index + 1).some((s) => [...log.reads].every(([k, v]) => s.get(k) === v));
        assert.ok(consistent, `${t.meta.description} read a state that some serial prefix produced (snapshot isolation)`);
      }
      const snap = await db.snapshot();
      for (const [oid, value] of model) {
        const actual = blobSet.has(oid) ? await blobText(snap, oid) : text((await snap.read(oid)).data);
        assert.equal(actual, value, `final value of ${oid}`);
      }
      await snap.close();
    },
  },
  {
    id: 'storage-counter-increments',
    title: '32 concurrent committers incrementing one counter with conflict retries end at exactly 32, own objects intact',
    source: 'T93',
    rule: ['storage.ts#Storage.store', 'storage.ts#invariants'],
    run: async ({ storage }) => {
      const counter = await createObject(storage, '0');
      const own = new Map<Oid, string>();
      await Promise.all(
        Array.from({ length: 32 }, async (_, w) => {
          const mine = await storage.newOid();
          for (let attempt = 0; ; attempt++) {
            const current = await storage.load(counter.oid);
            try {
              await commit(storage, [
                { oid: counter.oid, serial: current.tid, data: String(Number(text(current.data)) + 1) },
                { oid: mine, serial: 0n, data: `own-${w}` },
              ]);
              own.set(mine, `own-${w}`);
              return;
            } catch (e) {
              if (!isHandlertonError(e, 'HANDLERTON_CONFLICT') || attempt > 500) throw e;
              await sleep(Math.floor(Math.random() * Math.min(20, attempt + 1)));
            }
          }
        }),
      );
      assert.equal(text((await storage.load(counter.oid)).data), '32');
      for (const [oid, value] of own) assert.equal(text((await storage.load(oid)).data), value);
    },
  },
  {
    id: 'consistent-reads-during-commits',
    title: 'readers at lastTransaction()+1 never see a torn state while a writer keeps two objects equal',
    source: 'T17',
    rule: ['storage.ts#invariants', 'storage.ts#Storage.loadBefore'],
    requires: ['mvcc'],
    run: async ({ storage }) => {
      const a = await createObject(storage, '0');
      const b = await createObject(storage, '0');
      let done = false;
      const writer = (async () => {
        try {
          let [sa, sb] = [a.tid, b.tid];
          for (let i = 1; i <= 40; i++) {
            const t = await commit(storage, [
              { oid: a.oid, serial: sa, data: String(i) },
              { oid: b.oid, serial: sb, data: String(i) },
            ]);
            sa = t;
            sb = t;
            await ticks(1);
          }
        } finally {
          done = true;
        }
      })();
      const started = Date.now();
      const readers = Array.from({ length: 4 }, async () => {
        let checks = 0;
        while (!done || checks === 0) {
          // Bounded by time, not by count: an engine with in-memory reads and fsync'd commits checks
          // tens of thousands of times while the writer's 40 commits wait for the disk.
          if (Date.now() - started > 30_000) throw new Error(`reader loop did not end (${checks} checks in 30 s)`);
          const at = storage.lastTransaction() + 1n;
          const ra = await storage.loadBefore(a.oid, at);
          await ticks(1);
          const rb = await storage.loadBefore(b.oid, at);
          assert.equal(ra && text(ra.data), rb && text(rb.data), 'both objects read at one tid are equal');
          checks += 1;
          // Let I/O callbacks run: an engine whose loads settle at once (in memory) would otherwise
          // keep the event loop in microtasks and starve a writer that waits for its fsync.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      });
      const outcomes = await Promise.allSettled([writer, ...readers]);
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    },
  },
  {
    id: 'last-transaction-monotonic',
    title: 'lastTransaction() observed while 32 transactions commit concurrently never decreases',
    source: 'API-7',
    rule: ['storage.ts#invariants'],
    run: async ({ storage }) => {
      let done = false;
      const seen: Tid[] = [];
      const watcher = (async () => {
        while (!done) {
          seen.push(storage.lastTransaction());
          await ticks(1);
        }
      })();
      try {
        await Promise.all(Array.from({ length: 32 }, () => createObject(storage)));
      } finally {
        done = true;
        await watcher;
      }
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!);
    },
  },
  {
    id: 'concurrent-new-oids',
    title: '200 concurrent newOid() calls return distinct oids',
    source: 'API-1',
    rule: ['storage.ts#Storage.newOid'],
    run: async ({ storage }) => {
      const oids = await Promise.all(Array.from({ length: 200 }, () => storage.newOid()));
      assert.equal(new Set(oids).size, oids.length);
    },
  },
  {
    id: 'queued-begins',
    title: '32 transactions queued on the commit lock all commit, with distinct tids increasing in commit order',
    source: 'API-4',
    rule: ['storage.ts#Storage.tpcBegin', 'storage.ts#invariants'],
    run: async ({ storage }) => {
      const order: Tid[] = [];
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          const oid = await storage.newOid();
          const tid = await commit(storage, [{ oid, serial: 0n, data: 'q' }]);
          order.push(tid);
        }),
      );
      assert.equal(new Set(order).size, 32);
      for (let i = 1; i < order.length; i++) assert.ok(order[i]! > order[i - 1]!, 'finish order is tid order');
    },
  },
  {
    id: 'concurrent-blob-writers',
    title: '32 transactions each streaming its own blob concurrently all commit with their own bytes',
    source: 'T91',
    rule: ['database.ts#Transaction', 'database.ts#BlobHandle.createWriteStream'],
    run: async (ctx) => {
      const db = await ctx.database();
      const results = await Promise.all(
        Array.from({ length: 32 }, async (_, w) => {
          const content = `writer ${w} ` + String(w).repeat(3000);
          const oid = await db.transaction(async (tx) => {
            const blob = await tx.createBlob();
            const h = await blob.open('w');
            await pipeline(Readable.from([Buffer.from(content)]), h.createWriteStream());
            await h.flush();
            await h.close();
            return blob.oid;
          });
          return { oid, content };
        }),
      );
      const snap = await db.snapshot();
      for (const r of results) assert.equal(await blobText(snap, r.oid), r.content);
      await snap.close();
    },
  },
  {
    id: 'concurrent-blob-readers',
    title: 'ten concurrent readers of one blob all read the right bytes',
    source: 'BL-16',
    rule: ['database.ts#invariants'],
    run: async (ctx) => {
      const db = await ctx.database();
      const content = 'shared blob '.repeat(5000);
      const oid = await createBlobWith(db, content);
      const snap = await db.snapshot();
      const blob = await snap.blob(oid);
      const texts = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const h = await blob.open('r');
          const t = await readHandleText(h);
          await h.close();
          return t;
        }),
      );
      for (const t of texts) assert.equal(t, content);
      await snap.close();
    },
  },
  {
    id: 'database-counter-with-retries',
    title: '32 concurrent Database transactions incrementing one record with retries end at exactly 32',
    source: 'T91',
    rule: ['database.ts#TransactionOptions.retries', 'database.ts#Transaction'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(enc.encode('0')));
      await Promise.all(
        Array.from({ length: 32 }, () => {
          let attempt = 0;
          return db.transaction(
            async (tx) => {
              attempt += 1;
              // Back off before a retry, as an application would: without it, retries can burn out
              // while a slow (fsyncing) commit holds the lock.
              if (attempt > 1) await sleep(Math.floor(Math.random() * Math.min(50, 2 * attempt)));
              const n = Number(text((await tx.read(oid)).data));
              await ticks(1);
              await tx.write(oid, enc.encode(String(n + 1)));
            },
            { retries: 500 },
          );
        }),
      );
      const snap = await db.snapshot();
      assert.equal(text((await snap.read(oid)).data), '32');
      await snap.close();
    },
  },
  {
    id: 'mixed-readers-and-writers',
    title: 'writers re-verify their serials while readers mix load, loadSerial, history and iteration',
    source: 'T92',
    rule: ['storage.ts#invariants', 'storage.ts#Storage.loadSerial', 'storage.ts#Storage.iterator', 'storage.ts#Storage.history'],
    run: async ({ storage }) => {
      const caps = storage.capabilities;
      let writersDone = 0;
      const writers = Array.from({ length: 6 }, async (_, w) => {
        try {
          const { oid, tid } = await createObject(storage, `w${w}-0`);
          const serials: Tid[] = [tid];
          for (let i = 1; i <= 8; i++) serials.push(await commit(storage, [{ oid, serial: serials[serials.length - 1]!, data: `w${w}-${i}` }]));
          for (let i = 0; i < serials.length; i++) assert.equal(text((await storage.loadSerial(oid, serials[i]!)).data), `w${w}-${i}`);
          return oid;
        } finally {
          writersDone += 1;
        }
      });
      const readers = Array.from({ length: 6 }, async () => {
        for (let round = 0; writersDone < 6 && round < 5000; round++) {
          const last = storage.lastTransaction();
          if (caps.iterator && round % 10 === 0) {
            const txns = await collect(storage.iterator());
            for (let i = 1; i < txns.length; i++) assert.ok(txns[i]!.tid > txns[i - 1]!.tid);
            for (const t of txns.slice(-3)) for (const r of t.records) assert.ok(r.tid === t.tid);
          }
          if (last > 0n && caps.history && round % 5 === 0) {
            const t = (await collect(storage.iterator(last, last)))[0];
            const r = t?.records[0];
            if (r !== undefined) assert.equal((await storage.history(r.oid, 1))[0]!.tid >= r.tid, true);
          }
          await ticks(1);
        }
      });
      const oids = await Promise.all(writers);
      await Promise.all(readers);
      for (const [w, oid] of oids.entries()) assert.equal(text((await storage.load(oid)).data), `w${w}-8`);
    },
  },
  {
    id: 'many-new-objects',
    title: '16 concurrent workers each committing 10 new objects in separate transactions: all 160 load',
    source: 'T94',
    rule: ['storage.ts#Storage.newOid', 'storage.ts#invariants'],
    run: async ({ storage }) => {
      const made = await Promise.all(
        Array.from({ length: 16 }, async (_, w) => {
          const out: [Oid, string][] = [];
          for (let i = 0; i < 10; i++) {
            const { oid } = await createObject(storage, `w${w}o${i}`);
            out.push([oid, `w${w}o${i}`]);
          }
          return out;
        }),
      );
      const all = made.flat();
      assert.equal(new Set(all.map(([oid]) => oid)).size, 160);
      for (const [oid, value] of all) assert.equal(text((await storage.load(oid)).data), value);
    },
  },
  {
    id: 'snapshots-during-commits',
    title: 'Database snapshots taken while transactions commit always see both halves of each transaction',
    source: 'T17',
    rule: ['database.ts#Database.snapshot', 'storage.ts#invariants'],
    requires: ['mvcc'],
    run: async (ctx) => {
      const db = await ctx.database();
      const [a, b] = await db.transaction(async (tx) => [await tx.create(enc.encode('0')), await tx.create(enc.encode('0'))]);
      let done = false;
      const writer = (async () => {
        try {
          for (let i = 1; i <= 30; i++) {
            await db.transaction(async (tx) => {
              await tx.write(a, enc.encode(String(i)));
              await ticks(1);
              await tx.write(b, enc.encode(String(i)));
            });
          }
        } finally {
          done = true;
        }
      })();
      const readers = Array.from({ length: 4 }, async () => {
        for (let n = 0; !done && n < 10_000; n++) {
          const snap = await db.snapshot();
          const va = text((await snap.read(a)).data);
          await ticks(1);
          const vb = text((await snap.read(b)).data);
          await snap.close();
          assert.equal(va, vb, 'a snapshot never sees half a transaction');
        }
      });
      const outcomes = await Promise.allSettled([writer, ...readers]);
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    },
  },
  {
    id: 'pack-during-blob-writes',
    title: 'blob transactions committing while packs run all end with their own bytes',
    source: 'T47',
    rule: ['storage.ts#Storage.pack', 'database.ts#Database.pack'],
    requires: ['pack'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oids = await Promise.all(Array.from({ length: 8 }, (_, i) => createBlobWith(db, `start ${i}`)));
      let done = false;
      const writers = (async () => {
        try {
          await Promise.all(
            oids.map(async (oid, i) => {
              for (let round = 0; round < 4; round++) {
                await db.transaction(async (tx) => {
                  const h = await (await tx.blob(oid)).open('w');
                  await h.write(`blob ${i} round ${round} `.repeat(200));
                  await h.flush();
                  await h.close();
                });
              }
            }),
          );
        } finally {
          done = true;
        }
      })();
      while (!done) {
        await db.pack(db.lastTransaction() + 1n).catch((e: unknown) => {
          if (!isHandlertonError(e, 'HANDLERTON_PACK_IN_PROGRESS')) throw e;
        });
        await ticks(2);
      }
      await writers;
      const snap = await db.snapshot();
      for (const [i, oid] of oids.entries()) assert.equal(await blobText(snap, oid), `blob ${i} round 3 `.repeat(200));
      await snap.close();
    },
  },
  {
    id: 'db-transactions-32-concurrent',
    title: '32 concurrent db.transaction calls on disjoint objects all commit; 32 on overlapping objects from one snapshot: first committer of each object wins, the rest get ConflictError; no lost update when they start freely',
    source: 'issue 13',
    rule: ['database.ts#Transaction', 'database.ts#Transaction.commit'],
    run: async (ctx) => {
      const db = await ctx.database();
      const all = await createObjects(db, 32 * 10, 'init');
      const sets = Array.from({ length: 32 }, (_, w) => all.slice(w * 10, (w + 1) * 10));
      const disjoint = await disjointWrites(db, sets, 3, 'disjoint');
      await assertValues(db, disjoint, 'after disjoint commits');
      const shared = all.slice(0, 8);
      const overlap = await overlappingWrites(db, shared, 32, 'overlap');
      assert.ok(overlap.conflicts >= 16, `32 transactions over 8 objects from one snapshot: most conflict (got ${overlap.conflicts})`);
      const final = new Map(disjoint);
      for (const [oid, value] of overlap.expected) final.set(oid, value);
      await assertValues(db, final, 'after overlapping commits');
      // The losers changed nothing: a new round from the committed state commits again, this time
      // with workers free to begin after others committed (no lost update either way).
      const again = await overlappingWrites(db, shared, 32, 'again', { oneSnapshot: false });
      for (const [oid, value] of again.expected) final.set(oid, value);
      await assertValues(db, final, 'after a second overlapping round');
    },
  },
]);
