/**
 * Model-based cases: random operation sequences run against the engine and against a trivial
 * in-test model; every observable result must match.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isHandlertonError, type Oid, type Storage, type Tid } from '@handlerton/framework';
import { begin, commit, rec, text } from '../util/records.js';
import { blobText } from '../util/db-blobs.js';
import { seedOf } from '../util/random.js';
import { copyTransactions } from '../util/copy.js';
import { defineArea } from './define.js';
import type { CaseContext } from '../types.js';

/** One revision in the model: data, or null for a delete marker. */
interface ModelRevision {
  readonly tid: Tid;
  readonly data: string | null;
}

/** The trivial model of a Storage: per oid, its revisions oldest first. */
class StorageModel {
  readonly revisions = new Map<Oid, ModelRevision[]>();
  packedBefore: Tid = 0n;

  current(oid: Oid): ModelRevision | undefined {
    const revs = this.revisions.get(oid);
    return revs?.[revs.length - 1];
  }

  live(): Oid[] {
    return [...this.revisions.keys()].filter((oid) => this.current(oid)?.data !== null && this.current(oid) !== undefined);
  }

  /** What `load` must return: the data and serial, or 'POSKey'. */
  load(oid: Oid): { data: string; tid: Tid } | 'POSKey' {
    const cur = this.current(oid);
    return cur === undefined || cur.data === null ? 'POSKey' : { data: cur.data, tid: cur.tid };
  }

  loadBefore(oid: Oid, tid: Tid): { data: string; tid: Tid; nextTid: Tid | null } | null | 'POSKey' {
    const revs = this.revisions.get(oid);
    if (revs === undefined || revs.length === 0) return 'POSKey';
    let index = -1;
    for (let i = 0; i < revs.length; i++) if (revs[i]!.tid < tid) index = i;
    if (index < 0) return null;
    const r = revs[index]!;
    if (r.data === null) return 'POSKey';
    return { data: r.data, tid: r.tid, nextTid: revs[index + 1]?.tid ?? null };
  }

  pack(packTid: Tid): void {
    for (const [oid, revs] of this.revisions) {
      let index = -1;
      for (let i = 0; i < revs.length; i++) if (revs[i]!.tid < packTid) index = i;
      if (index < 0) continue;
      if (revs[index]!.data === null) {
        const later = revs.slice(index + 1);
        if (later.length === 0) this.revisions.delete(oid);
        else this.revisions.set(oid, later);
      } else {
        this.revisions.set(oid, revs.slice(index));
      }
    }
    this.packedBefore = packTid;
  }
}

type Op =
  | { kind: 'create'; value: number }
  | { kind: 'update'; pick: number; value: number; stale: boolean }
  | { kind: 'delete'; pick: number }
  | { kind: 'abort'; pick: number; value: number }
  | { kind: 'load'; pick: number }
  | { kind: 'loadBefore'; pick: number; at: number }
  | { kind: 'history'; pick: number }
  | { kind: 'pack' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('create' as const), value: fc.nat(999) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('update' as const), pick: fc.nat(), value: fc.nat(999), stale: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat(), value: fc.nat(999) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('load' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('loadBefore' as const), pick: fc.nat(), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('history' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pack' as const) }) },
);

async function outcome<T>(fn: () => Promise<T>): Promise<T | 'POSKey' | 'Conflict'> {
  try {
    return await fn();
  } catch (e) {
    if (isHandlertonError(e, 'HANDLERTON_POS_KEY')) return 'POSKey';
    if (isHandlertonError(e, 'HANDLERTON_CONFLICT')) return 'Conflict';
    throw e;
  }
}

/** Runs `ops` against `storage` and the model, asserting every observation; returns the model. */
async function runOps(storage: Storage, ops: readonly Op[], model = new StorageModel(), oids: Oid[] = [], tids: Tid[] = []): Promise<StorageModel> {
  const caps = storage.capabilities;
  const pick = (n: number): Oid | undefined => (oids.length === 0 ? undefined : oids[n % oids.length]);
  for (const [step, op] of ops.entries()) {
    const where = `step ${step} ${JSON.stringify(op)}`;
    switch (op.kind) {
      case 'create': {
        const oid = await storage.newOid();
        const tid = await commit(storage, [{ oid, serial: 0n, data: `v${op.value}` }]);
        model.revisions.set(oid, [{ tid, data: `v${op.value}` }]);
        oids.push(oid);
        tids.push(tid);
        break;
      }
      case 'update': {
        const oid = pick(op.pick);
        if (oid === undefined) break;
        const revs = model.revisions.get(oid) ?? [];
        const cur = model.current(oid);
        const serial = op.stale && revs.length > 1 ? revs[revs.length - 2]!.tid : (cur?.tid ?? 0n);
        const expectConflict = cur === undefined ? serial !== 0n : serial !== cur.tid;
        // Storing over a delete marker with the delete's tid is left open by the contract (ZODB
        // FileStorage accepts it): either outcome is fine, the model follows the engine.
        const eitherWay = cur !== undefined && cur.data === null && serial === cur.tid;
        const got = await outcome(() => commit(storage, [{ oid, serial, data: `u${op.value}` }]));
        if (eitherWay && got === 'Conflict') break;
        if (expectConflict) {
          assert.equal(got, 'Conflict', `${where}: a stale serial conflicts`);
        } else {
          assert.equal(typeof got, 'bigint', `${where}: a current serial commits (got ${String(got)})`);
          const tid = got as Tid;
          if (!model.revisions.has(oid)) model.revisions.set(oid, []);
          model.revisions.get(oid)!.push({ tid, data: `u${op.value}` });
          tids.push(tid);
        }
        break;
      }
      case 'delete': {
        const oid = pick(op.pick);
        if (oid === undefined || !caps.externalGC) break;
        const cur = model.current(oid);
        const got = await outcome(() => commit(storage, [{ oid, serial: cur?.tid ?? 0n, delete: true }]));
        if (cur === undefined || cur.data === null) {
          assert.ok(got === 'POSKey' || got === 'Conflict', `${where}: deleting a deleted object fails (got ${String(got)})`);
        } else {
          assert.equal(typeof got, 'bigint', `${where}: delete commits`);
          model.revisions.get(oid)!.push({ tid: got as Tid, data: null });
          tids.push(got as Tid);
        }
        break;
      }
      case 'abort': {
        const oid = pick(op.pick);
        if (oid === undefined) break;
        const { txn } = await begin(storage);
        await storage.store(oid, model.current(oid)?.tid ?? 0n, rec(`aborted${op.value}`), txn).catch(() => undefined);
        await storage.tpcAbort(txn);
        break;
      }
      case 'load': {
        const oid = pick(op.pick);
        if (oid === undefined) break;
        const got = await outcome(async () => {
          const r = await storage.load(oid);
          return { data: text(r.data), tid: r.tid };
        });
        assert.deepEqual(got, model.load(oid), `${where}: load`);
        break;
      }
      case 'loadBefore': {
        const oid = pick(op.pick);
        if (oid === undefined || !caps.mvcc) break;
        const candidates = tids.filter((t) => t >= model.packedBefore);
        if (candidates.length === 0) break;
        const at = candidates[op.at % candidates.length]! + BigInt(op.at % 2);
        const got = await outcome(async () => {
          const r = await storage.loadBefore(oid, at);
          return r === null ? null : { data: text(r.data), tid: r.tid, nextTid: r.nextTid };
        });
        const expected = model.revisions.has(oid) ? model.loadBefore(oid, at) : 'POSKey';
        assert.deepEqual(got, expected, `${where}: loadBefore(${oid}, ${at})`);
        break;
      }
      case 'history': {
        const oid = pick(op.pick);
        if (oid === undefined || !caps.history) break;
        const got = await outcome(async () => (await storage.history(oid, 100)).map((h) => [h.tid, h.deleted]));
        const revs = model.revisions.get(oid);
        const expected = revs === undefined ? 'POSKey' : [...revs].reverse().map((r) => [r.tid, r.data === null]);
        assert.deepEqual(got, expected, `${where}: history`);
        break;
      }
      case 'pack': {
        if (!caps.pack) break;
        const packTid = storage.lastTransaction() + 1n;
        await storage.pack(packTid);
        model.pack(packTid);
        break;
      }
    }
  }
  for (const oid of oids) assert.deepEqual(await outcome(async () => { const r = await storage.load(oid); return { data: text(r.data), tid: r.tid }; }), model.load(oid), `final load(${oid})`);
  return model;
}

async function runModelProperty(ctx: CaseContext, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), async (ops) => {
      const engines = await ctx.extraEngines('model');
      try {
        await runOps(engines.storage, ops);
      } finally {
        await engines.storage.close();
        await engines.blobs.close();
      }
    }),
    { numRuns, seed: seedOf(ctx.harness.name + 'model') | 0, endOnFailure: true },
  );
}

const enc = new TextEncoder();

/** The Storage rules the model sequences exercise: create/update/stale update, delete, abort, load, loadBefore, history, pack. */
const STORAGE_MODEL_RULES = [
  'storage.ts#Storage.store',
  'storage.ts#Storage.deleteObject',
  'storage.ts#Storage.tpcAbort',
  'storage.ts#Storage.load',
  'storage.ts#Storage.loadBefore',
  'storage.ts#Storage.history',
  'storage.ts#Storage.pack',
] as const;

export const modelCases = defineArea('model', [
  {
    id: 'storage-random-operations',
    title: 'random create/update/stale-update/delete/abort/load/loadBefore/history/pack sequences match a trivial model (fast-check)',
    source: 'T17',
    rule: [...STORAGE_MODEL_RULES, 'storage.ts#invariants'],
    run: async (ctx) => runModelProperty(ctx, 12),
  },
  {
    id: 'storage-long-sequence',
    title: 'one long seeded sequence of 300 operations on a single engine matches the model throughout',
    source: 'T91',
    rule: [...STORAGE_MODEL_RULES, 'storage.ts#invariants'],
    run: async (ctx) => {
      const sample = fc.sample(fc.array(opArb, { minLength: 300, maxLength: 300 }), { seed: seedOf(ctx.harness.name), numRuns: 1 })[0]!;
      await runOps(ctx.storage, sample);
    },
  },
  {
    id: 'storage-model-across-reopen',
    title: 'the model still matches after a reopen in the middle of a random sequence',
    source: 'T85',
    rule: [...STORAGE_MODEL_RULES, 'capabilities.ts#StorageCapabilities.durable'],
    requires: ['durable'],
    run: async (ctx) => {
      const [first, second] = fc.sample(fc.array(opArb, { minLength: 60, maxLength: 60 }), { seed: seedOf(ctx.harness.name + 'reopen'), numRuns: 2 }) as [Op[], Op[]];
      const oids: Oid[] = [];
      const tids: Tid[] = [];
      const model = await runOps(ctx.storage, first, undefined, oids, tids);
      await ctx.reopen();
      await runOps(ctx.storage, second, model, oids, tids);
    },
  },
  {
    id: 'database-records-and-blobs',
    title: 'a seeded sequence of Database transactions (records, blobs, deletes, aborts, snapshots) matches a map model',
    source: 'T117',
    rule: ['database.ts#Transaction', 'database.ts#invariants', 'database.ts#Database.snapshot'],
    run: async (ctx) => {
      const db = await ctx.database();
      const dataTx = db.capabilities.blobs.mode === 'dataTransactional';
      const model = new Map<Oid, { kind: 'record' | 'blob'; value: string }>();
      const history: { tid: Tid; state: Map<Oid, string> }[] = [];
      const snapshotState = (): Map<Oid, string> => new Map([...model].map(([k, v]) => [k, v.value]));
      for (let step = 0; step < 80; step++) {
        const choice = ctx.randomInt(10);
        const oids = [...model.keys()];
        const some = oids.length > 0 ? oids[ctx.randomInt(oids.length)]! : undefined;
        if (choice <= 1 || some === undefined) {
          const value = `r${step}`;
          const oid = await db.transaction((tx) => tx.create(enc.encode(value)));
          model.set(oid, { kind: 'record', value });
        } else if (choice === 2) {
          const value = `b${step}`;
          const oid = await db.transaction(async (tx) => {
            const blob = await tx.createBlob();
            const h = await blob.open('w');
            await h.write(value);
            await h.flush();
            await h.close();
            return blob.oid;
          });
          model.set(oid, { kind: 'blob', value });
        } else if (choice <= 4) {
          const entry = model.get(some)!;
          const value = `${entry.kind === 'blob' ? 'b' : 'r'}${step}w`;
          await db.transaction(async (tx) => {
            if (entry.kind === 'record') await tx.write(some, enc.encode(value));
            else {
              const h = await (await tx.blob(some)).open('w');
              await h.write(value);
              await h.flush();
              await h.close();
            }
          });
          entry.value = value;
        } else if (choice === 5 && db.capabilities.storage.externalGC) {
          await db.transaction((tx) => tx.delete(some));
          model.delete(some);
        } else if (choice === 6) {
          await assert.rejects(
            db.transaction(async (tx) => {
              const entry = model.get(some)!;
              if (entry.kind === 'record') await tx.write(some, enc.encode('aborted'));
              else if (dataTx) await (await (await tx.blob(some)).open('w')).write('aborted');
              await tx.create(enc.encode('aborted new'));
              throw new Error('abort');
            }),
            /abort/,
          );
        } else if (choice === 7 && db.capabilities.storage.mvcc && history.length > 0) {
          const past = history[ctx.randomInt(history.length)]!;
          const snap = await db.snapshot(past.tid);
          for (const [oid, value] of past.state) {
            const entryKind = value.startsWith('b') ? 'blob' : 'record';
            if (entryKind === 'blob' && !dataTx) continue;
            const got = entryKind === 'blob' ? await blobText(snap, oid) : text((await snap.read(oid)).data);
            assert.equal(got, value, `step ${step}: snapshot at ${past.tid} reads ${oid}`);
          }
          await snap.close();
        } else {
          const snap = await db.snapshot();
          const entry = model.get(some)!;
          const got = entry.kind === 'blob' ? await blobText(snap, some) : text((await snap.read(some)).data);
          assert.equal(got, entry.value, `step ${step}: read ${some}`);
          await snap.close();
        }
        history.push({ tid: db.lastTransaction(), state: snapshotState() });
      }
      const snap = await db.snapshot();
      for (const [oid, entry] of model) {
        const got = entry.kind === 'blob' ? await blobText(snap, oid) : text((await snap.read(oid)).data);
        assert.equal(got, entry.value, `final ${oid}`);
      }
      await snap.close();
    },
  },
  {
    id: 'database-across-reopen',
    title: 'records and blobs written through a Database read back identically after a reopen',
    source: 'T85',
    rule: ['capabilities.ts#StorageCapabilities.durable', 'capabilities.ts#BlobCapabilities.durable'],
    requires: ['durable', 'blob.durable'],
    run: async (ctx) => {
      let db = await ctx.database();
      const model = new Map<Oid, { blob: boolean; value: string }>();
      for (let i = 0; i < 20; i++) {
        const value = `v${i}-${ctx.randomInt(1000)}`;
        if (ctx.random() < 0.4) {
          const oid = await db.transaction(async (tx) => {
            const blob = await tx.createBlob();
            const h = await blob.open('w');
            await h.write(value.repeat(100));
            await h.flush();
            await h.close();
            return blob.oid;
          });
          model.set(oid, { blob: true, value: value.repeat(100) });
        } else {
          const existing = [...model].filter(([, e]) => !e.blob);
          if (existing.length > 0 && ctx.random() < 0.5) {
            const [oid] = existing[ctx.randomInt(existing.length)]!;
            await db.transaction((tx) => tx.write(oid, enc.encode(value)));
            model.set(oid, { blob: false, value });
          } else {
            const oid = await db.transaction((tx) => tx.create(enc.encode(value)));
            model.set(oid, { blob: false, value });
          }
        }
      }
      const last = db.lastTransaction();
      await ctx.reopen();
      db = await ctx.database();
      assert.equal(db.lastTransaction(), last);
      const snap = await db.snapshot();
      for (const [oid, entry] of model) {
        const got = entry.blob ? await blobText(snap, oid) : text((await snap.read(oid)).data);
        assert.equal(got, entry.value, `oid ${oid} after reopen`);
      }
      await snap.close();
    },
  },
  {
    id: 'random-sequence-then-copy',
    title: 'after a random sequence, a copy made through iterator + restore matches the same model',
    source: 'T86',
    rule: ['storage.ts#Storage.restore', 'storage.ts#Storage.iterator'],
    requires: ['iterator', 'restore'],
    run: async (ctx) => {
      const [ops] = fc.sample(fc.array(opArb, { minLength: 80, maxLength: 80 }), { seed: seedOf(ctx.harness.name + 'copy'), numRuns: 1 }) as [Op[]];
      const oids: Oid[] = [];
      const model = await runOps(ctx.storage, ops.filter((op) => op.kind !== 'pack'), undefined, oids, []);
      const target = await ctx.extraEngines('copy');
      await copyTransactions(ctx, target);
      for (const oid of oids) {
        const got = await outcome(async () => {
          const r = await target.storage.load(oid);
          return { data: text(r.data), tid: r.tid };
        });
        assert.deepEqual(got, model.load(oid), `copied load(${oid})`);
        if (target.storage.capabilities.history) {
          const h = await outcome(async () => (await target.storage.history(oid, 100)).map((e) => [e.tid, e.deleted]));
          const revs = model.revisions.get(oid);
          assert.deepEqual(h, revs === undefined ? 'POSKey' : [...revs].reverse().map((r) => [r.tid, r.data === null]), `copied history(${oid})`);
        }
      }
    },
  },
  {
    id: 'blob-handle-random-io',
    title: 'random seeks, writes, reads and truncates through one blob handle match a byte-array model, before and after commit',
    source: 'WL#3583 mysql_bl_*',
    rule: [
      'database.ts#BlobHandle.seek',
      'database.ts#BlobHandle.write',
      'database.ts#BlobHandle.read',
      'database.ts#BlobHandle.truncate',
    ],
    requires: ['blob.seek', 'blob.truncate'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction(async (tx) => (await tx.createBlob()).oid);
      let model = new Uint8Array(0);
      const resize = (size: number): void => {
        const next = new Uint8Array(size);
        next.set(model.subarray(0, Math.min(size, model.length)));
        model = next;
      };
      await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('r+');
        let position = 0;
        for (let step = 0; step < 120; step++) {
          const choice = ctx.randomInt(4);
          const where = `step ${step}`;
          if (choice === 0) {
            position = h.seek(ctx.randomInt(model.length + 20));
          } else if (choice === 1) {
            const data = new Uint8Array(1 + ctx.randomInt(300)).map(() => ctx.randomInt(256));
            await h.write(data);
            if (position + data.length > model.length) resize(position + data.length);
            model.set(data, position);
            position += data.length;
          } else if (choice === 2) {
            const length = ctx.randomInt(200);
            const got = await h.read(length);
            const expected = model.subarray(Math.min(position, model.length), Math.min(position + length, model.length));
            assert.deepEqual(Array.from(got), Array.from(expected), `${where}: read(${length}) at ${position}`);
            position += got.length;
          } else {
            const size = ctx.randomInt(model.length + 50);
            await h.truncate(size);
            resize(size);
          }
          assert.equal(h.tell(), position, `${where}: tell`);
          assert.equal(h.size(), model.length, `${where}: size`);
        }
        await h.flush();
        await h.close();
      });
      const snap = await db.snapshot();
      const r = await (await snap.blob(oid)).open('r');
      assert.deepEqual(Array.from(await r.read(model.length + 10)), Array.from(model), 'committed bytes');
      await r.close();
      await snap.close();
    },
  },
]);
