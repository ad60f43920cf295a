/** Records and two-phase commit: store/load, oids, tids, begin/vote/finish/abort, the commit lock. */
import assert from 'node:assert/strict';
import { isHandlertonError, storageTransaction, ZERO_TID, isU64, type Oid } from '@handlerton/framework';
import { rejectsWithCode } from '../util/assert-code.js';
import { assertLoads, begin, bytes, commit, createObject, rec, text, ticks } from '../util/records.js';
import { defineArea } from './define.js';

export const transactionCases = defineArea('transactions', [
  {
    id: 'empty-last-transaction',
    title: 'an empty storage reports lastTransaction() = 0',
    source: 'T1',
    rule: ['storage.ts#Storage.lastTransaction'],
    run: async ({ storage }) => {
      assert.equal(storage.lastTransaction(), ZERO_TID);
    },
  },
  {
    id: 'new-oids-distinct-increasing',
    title: 'newOid() hands out distinct, strictly increasing oids',
    source: 'API-1',
    rule: ['storage.ts#Storage.newOid'],
    run: async ({ storage }) => {
      let previous = -1n;
      for (let i = 0; i < 50; i++) {
        const oid = await storage.newOid();
        assert.ok(isU64(oid), 'oid is an unsigned 64-bit bigint');
        assert.ok(oid > previous, `oid ${oid} > previous ${previous}`);
        previous = oid;
      }
    },
  },
  {
    id: 'store-bumps-oid',
    title: 'storing an oid above the counter bumps it: later newOid() never collides',
    source: 'API-1',
    rule: ['storage.ts#Storage.newOid'],
    run: async ({ storage }) => {
      const high = (await storage.newOid()) + 1000n;
      await commit(storage, [{ oid: high, serial: 0n, data: 'high' }]);
      assert.ok((await storage.newOid()) > high);
    },
  },
  {
    id: 'store-load-roundtrip',
    title: 'a committed store loads back with its bytes and the tid returned by tpcFinish',
    source: 'T2',
    rule: ['storage.ts#Storage.load', 'storage.ts#Storage.tpcFinish'],
    run: async ({ storage }) => {
      const oid = await storage.newOid();
      const tid = await commit(storage, [{ oid, serial: 0n, data: 'hello' }]);
      assert.notEqual(tid, ZERO_TID, 'tid is not zero (T3)');
      await assertLoads(storage, oid, 'hello', tid);
    },
  },
  {
    id: 'binary-data-roundtrip',
    title: 'record bytes round-trip exactly, including zero bytes and all 256 byte values',
    source: 'API-13',
    rule: ['records.ts#RecordInput.data'],
    run: async ({ storage }) => {
      const data = new Uint8Array(1024);
      for (let i = 0; i < data.length; i++) data[i] = i % 256;
      const oid = await storage.newOid();
      await commit(storage, [{ oid, serial: 0n, data }]);
      assert.deepEqual(Array.from((await storage.load(oid)).data), Array.from(data));
    },
  },
  {
    id: 'empty-data',
    title: 'a record with empty data commits and loads as empty',
    source: 'T102',
    rule: ['records.ts#RecordInput.data'],
    run: async ({ storage }) => {
      const oid = await storage.newOid();
      const tid = await commit(storage, [{ oid, serial: 0n, data: new Uint8Array(0) }]);
      const loaded = await storage.load(oid);
      assert.equal(loaded.data.length, 0);
      assert.equal(loaded.tid, tid);
    },
  },
  {
    id: 'refs-roundtrip',
    title: 'declared references (oids and blob refs) load back unchanged',
    source: 'DESIGN records',
    rule: ['records.ts#RecordInput.refs'],
    run: async ({ storage }) => {
      const a = await storage.newOid();
      const b = await storage.newOid();
      const blobs = [{ handlerton: 'some-blobs', blobId: 7n, revision: 99n }];
      await commit(storage, [
        { oid: a, serial: 0n, data: 'a' },
        { oid: b, serial: 0n, data: 'b', refs: { oids: [a, 0n], blobs } },
      ]);
      const loaded = await storage.load(b);
      assert.deepEqual([...loaded.refs.oids], [a, 0n]);
      assert.deepEqual(loaded.refs.blobs.map((r) => ({ ...r })), blobs);
      assert.deepEqual([...(await storage.load(a)).refs.oids], []);
    },
  },
  {
    id: 'root-oid-created-with-zero-serial',
    title: 'the root object (oid 0) is created by storing it with serial 0',
    source: 'API-3',
    rule: ['storage.ts#Storage.store', 'storage.ts#Storage.newOid'],
    run: async ({ storage }) => {
      const tid = await commit(storage, [{ oid: 0n, serial: 0n, data: 'root' }]);
      await assertLoads(storage, 0n, 'root', tid);
      assert.ok((await storage.newOid()) > 0n, 'newOid never returns the root oid once it exists');
    },
  },
  {
    id: 'last-store-wins',
    title: 'storing one oid several times in one transaction keeps the last store',
    source: 'T4',
    rule: ['storage.ts#Storage.store'],
    run: async ({ storage }) => {
      const oid = await storage.newOid();
      const { txn } = await begin(storage);
      for (let i = 0; i < 10; i++) await storage.store(oid, 0n, rec(`v${i}`), txn);
      await storage.tpcVote(txn);
      const tid = await storage.tpcFinish(txn);
      await assertLoads(storage, oid, 'v9', tid);
    },
  },
  {
    id: 'two-objects-one-transaction',
    title: 'objects stored in one transaction share its tid',
    source: 'T8',
    rule: ['storage.ts#Storage.tpcBegin'],
    run: async ({ storage }) => {
      const a = await storage.newOid();
      const b = await storage.newOid();
      const tid = await commit(storage, [
        { oid: a, serial: 0n, data: 'A' },
        { oid: b, serial: 0n, data: 'B' },
      ]);
      await assertLoads(storage, a, 'A', tid);
      await assertLoads(storage, b, 'B', tid);
    },
  },
  {
    id: 'begin-tid-is-finish-tid',
    title: 'the tid fixed at tpcBegin is the tid tpcFinish returns and the serial of the stores',
    source: 'API-2',
    rule: ['storage.ts#Storage.tpcBegin', 'storage.ts#Storage.tpcFinish'],
    run: async ({ storage }) => {
      const oid = await storage.newOid();
      const { txn, tid } = await begin(storage);
      assert.ok(tid > storage.lastTransaction(), 'begin tid exceeds lastTransaction');
      await storage.store(oid, 0n, rec('x'), txn);
      await storage.tpcVote(txn);
      assert.equal(await storage.tpcFinish(txn), tid);
      assert.equal((await storage.load(oid)).tid, tid);
    },
  },
  {
    id: 'tids-strictly-increase',
    title: 'tids strictly increase over many quick commits, even within one millisecond',
    source: 'API-2',
    rule: ['storage.ts#invariants'],
    run: async ({ storage }) => {
      const oid = await storage.newOid();
      let serial = 0n;
      for (let i = 0; i < 60; i++) {
        const tid = await commit(storage, [{ oid, serial, data: `${i}` }]);
        assert.ok(tid > serial, `tid ${tid} > previous ${serial}`);
        assert.equal(storage.lastTransaction(), tid);
        serial = tid;
      }
    },
  },
  {
    id: 'tid-derived-from-clock',
    title: 'a tid is derived from wall-clock time (its millisecond is near now)',
    source: 'API-2',
    rule: ['ids.ts#invariants'],
    run: async ({ storage }) => {
      const before = Date.now();
      const { oid } = await createObject(storage);
      const tid = (await storage.load(oid)).tid;
      const ms = Number(tid >> 20n);
      assert.ok(ms >= before - 60_000 && ms <= Date.now() + 60_000, `tid time ${new Date(ms).toISOString()} is near now`);
    },
  },
  {
    id: 'last-transaction-moves-only-on-finish',
    title: 'lastTransaction() does not move at begin, store or vote, only when tpcFinish returns',
    source: 'API-7',
    rule: ['storage.ts#invariants', 'storage.ts#Storage.lastTransaction'],
    run: async ({ storage }) => {
      const { tid: first } = await createObject(storage);
      const oid = await storage.newOid();
      const { txn, tid } = await begin(storage);
      assert.equal(storage.lastTransaction(), first, 'after begin');
      await storage.store(oid, 0n, rec('x'), txn);
      assert.equal(storage.lastTransaction(), first, 'after store');
      await storage.tpcVote(txn);
      assert.equal(storage.lastTransaction(), first, 'after vote');
      await storage.tpcFinish(txn);
      assert.equal(storage.lastTransaction(), tid, 'after finish');
    },
  },
  {
    id: 'abort-before-vote-leaves-nothing',
    title: 'aborting before vote leaves nothing: new objects do not load, lastTransaction unchanged',
    source: 'API-8',
    rule: ['storage.ts#Storage.tpcAbort', 'storage.ts#invariants'],
    run: async ({ storage }) => {
      const { oid: old, tid: first } = await createObject(storage, 'keep');
      const fresh = await storage.newOid();
      const { txn } = await begin(storage);
      await storage.store(fresh, 0n, rec('gone'), txn);
      await storage.store(old, first, rec('changed'), txn);
      await storage.tpcAbort(txn);
      await rejectsWithCode(storage.load(fresh), 'HANDLERTON_POS_KEY', 'load of an aborted new object');
      await assertLoads(storage, old, 'keep', first);
      assert.equal(storage.lastTransaction(), first);
    },
  },
  {
    id: 'abort-after-vote-leaves-nothing',
    title: 'aborting after vote keeps earlier data and serials intact',
    source: 'T7',
    rule: ['storage.ts#Storage.tpcAbort', 'storage.ts#invariants'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'keep');
      const { txn } = await begin(storage);
      await storage.store(oid, tid, rec('changed'), txn);
      await storage.tpcVote(txn);
      await storage.tpcAbort(txn);
      await assertLoads(storage, oid, 'keep', tid);
      assert.equal(storage.lastTransaction(), tid);
    },
  },
  {
    id: 'usable-after-abort',
    title: 'the storage commits normally after an abort (the commit lock was released)',
    source: 'T6',
    rule: ['storage.ts#Storage.tpcAbort'],
    run: async ({ storage }) => {
      const { oid, tid } = await createObject(storage, 'a');
      const { txn } = await begin(storage);
      await storage.store(oid, tid, rec('b'), txn);
      await storage.tpcAbort(txn);
      const next = await commit(storage, [{ oid, serial: tid, data: 'c' }]);
      await assertLoads(storage, oid, 'c', next);
    },
  },
  {
    id: 'empty-transactions',
    title: 'empty transactions are legal, get increasing tids and release the commit lock',
    source: 'T14',
    rule: ['storage.ts#Storage.tpcFinish'],
    run: async ({ storage }) => {
      const t1 = await commit(storage, []);
      const t2 = await commit(storage, []);
      assert.ok(t1 > 0n && t2 > t1);
      assert.equal(storage.lastTransaction(), t2, 'an empty transaction becomes lastTransaction (API-9)');
    },
  },
  {
    id: 'duplicate-begin-rejected',
    title: 'tpcBegin of a transaction that is already active raises StorageTransactionError',
    source: 'T1',
    rule: ['storage.ts#Storage.tpcBegin'],
    run: async ({ storage }) => {
      const { txn } = await begin(storage);
      await rejectsWithCode(storage.tpcBegin(txn), 'HANDLERTON_STORAGE_TRANSACTION', 'second tpcBegin');
      await storage.tpcAbort(txn);
    },
  },
  {
    id: 'store-without-begin',
    title: 'store with no transaction begun raises StorageTransactionError',
    source: 'T20',
    rule: ['storage.ts#Storage.store'],
    run: async ({ storage }) => {
      const oid = await storage.newOid();
      await rejectsWithCode(storage.store(oid, 0n, rec('x'), storageTransaction()), 'HANDLERTON_STORAGE_TRANSACTION');
      await rejectsWithCode(storage.load(oid), 'HANDLERTON_POS_KEY', 'nothing was stored');
    },
  },
  {
    id: 'store-with-wrong-transaction',
    title: 'store with a transaction that is not the active one raises StorageTransactionError',
    source: 'T21',
    rule: ['storage.ts#Storage.store'],
    run: async ({ storage }) => {
      const oid = await storage.newOid();
      const { txn } = await begin(storage);
      await rejectsWithCode(storage.store(oid, 0n, rec('x'), storageTransaction()), 'HANDLERTON_STORAGE_TRANSACTION');
      await storage.tpcAbort(txn);
    },
  },
  {
    id: 'abort-without-begin',
    title: 'tpcAbort of a transaction that never began does nothing and does not throw',
    source: 'T22',
    rule: ['storage.ts#Storage.tpcAbort'],
    run: async ({ storage }) => {
      await storage.tpcAbort(storageTransaction());
      await createObject(storage);
    },
  },
  {
    id: 'abort-other-transaction',
    title: 'tpcAbort of another transaction while one is active has no effect on the active one',
    source: 'T23',
    rule: ['storage.ts#Storage.tpcAbort'],
    run: async ({ storage }) => {
      const oid = await storage.newOid();
      const { txn, tid } = await begin(storage);
      await storage.store(oid, 0n, rec('survives'), txn);
      await storage.tpcAbort(storageTransaction());
      await storage.tpcVote(txn);
      assert.equal(await storage.tpcFinish(txn), tid);
      await assertLoads(storage, oid, 'survives', tid);
    },
  },
  {
    id: 'finish-without-begin',
    title: 'tpcFinish with no transaction begun raises StorageTransactionError',
    source: 'T24',
    rule: ['storage.ts#Storage.tpcFinish'],
    run: async ({ storage }) => {
      await rejectsWithCode(storage.tpcFinish(storageTransaction()), 'HANDLERTON_STORAGE_TRANSACTION');
    },
  },
  {
    id: 'finish-wrong-transaction',
    title: 'tpcFinish and tpcVote with a transaction that is not the active one raise StorageTransactionError',
    source: 'T25',
    rule: ['storage.ts#Storage.tpcFinish', 'storage.ts#Storage.tpcVote'],
    run: async ({ storage }) => {
      const { txn } = await begin(storage);
      await rejectsWithCode(storage.tpcVote(storageTransaction()), 'HANDLERTON_STORAGE_TRANSACTION', 'tpcVote');
      await rejectsWithCode(storage.tpcFinish(storageTransaction()), 'HANDLERTON_STORAGE_TRANSACTION', 'tpcFinish');
      await storage.tpcAbort(txn);
    },
  },
  {
    id: 'begin-abort-begin',
    title: 'begin then abort, repeated, leaves the storage usable and lastTransaction unchanged',
    source: 'T26',
    rule: ['storage.ts#Storage.tpcAbort', 'storage.ts#invariants'],
    run: async ({ storage }) => {
      for (let i = 0; i < 5; i++) {
        const { txn } = await begin(storage);
        await storage.tpcAbort(txn);
      }
      assert.equal(storage.lastTransaction(), 0n);
      await createObject(storage);
    },
  },
  {
    id: 'commit-lock-serialises-begin',
    title: 'tpcBegin of a second transaction waits until the active one finishes, then gets a later tid',
    source: 'API-4',
    rule: ['storage.ts#Storage.tpcBegin', 'storage.ts#invariants'],
    run: async ({ storage }) => {
      const oid = await storage.newOid();
      const first = await begin(storage);
      let secondTid: bigint | undefined;
      const second = storageTransaction();
      const waiting = storage.tpcBegin(second).then((tid) => {
        secondTid = tid;
        return tid;
      });
      waiting.catch(() => undefined); // awaited below; never left unhandled if an assertion fails first
      await ticks(20);
      assert.equal(secondTid, undefined, 'the second tpcBegin is still waiting for the commit lock');
      await storage.store(oid, 0n, rec('first'), first.txn);
      await storage.tpcVote(first.txn);
      await storage.tpcFinish(first.txn);
      const tid2 = await waiting;
      assert.ok(tid2 > first.tid, 'the waiting transaction gets a later tid');
      await storage.tpcAbort(second);
    },
  },
  {
    id: 'load-unknown-oid',
    title: 'load of an oid that was never stored raises POSKeyError',
    source: 'T9',
    rule: ['storage.ts#Storage.load'],
    run: async ({ storage }) => {
      await rejectsWithCode(storage.load(123456n), 'HANDLERTON_POS_KEY');
      await rejectsWithCode(storage.load(await storage.newOid()), 'HANDLERTON_POS_KEY', 'a reserved but unstored oid');
    },
  },
  {
    id: 'serial-tracks-each-commit',
    title: 'the serial load returns tracks each committed revision',
    source: 'T9',
    rule: ['storage.ts#Storage.load', 'records.ts#LoadedRecord.tid'],
    run: async ({ storage }) => {
      const oid: Oid = await storage.newOid();
      let serial = 0n;
      for (let i = 0; i < 5; i++) {
        serial = await commit(storage, [{ oid, serial, data: `r${i}` }]);
        assert.equal((await storage.load(oid)).tid, serial);
      }
    },
  },
  {
    id: 'loaded-data-not-aliased',
    title: 'mutating a loaded or stored buffer does not change what the storage holds',
    source: 'DESIGN records',
    rule: ['storage.ts#invariants'],
    run: async ({ storage }) => {
      const oid = await storage.newOid();
      const data = bytes('abc');
      await commit(storage, [{ oid, serial: 0n, data }]);
      data[0] = 0x7a;
      const loaded = await storage.load(oid);
      assert.equal(text(loaded.data), 'abc', 'the stored buffer was copied');
      try {
        (loaded.data as Uint8Array)[0] = 0x7a;
      } catch {
        // a frozen or read-only view is fine too
      }
      assert.equal(text((await storage.load(oid)).data), 'abc', 'a loaded buffer is a copy');
    },
  },
  {
    id: 'close-idempotent',
    title: 'close() is idempotent and later calls raise StorageClosedError',
    source: 'DESIGN contracts',
    rule: ['storage.ts#Storage.close', 'storage.ts#invariants'],
    run: async ({ storage }) => {
      await storage.close();
      await storage.close();
      await rejectsWithCode(() => storage.load(0n), 'HANDLERTON_STORAGE_CLOSED', 'load after close');
      await rejectsWithCode(() => storage.tpcBegin(storageTransaction()), 'HANDLERTON_STORAGE_CLOSED', 'tpcBegin after close');
    },
  },
  {
    id: 'errors-are-rejections',
    title: 'promise-returning calls report errors as rejected promises, never as synchronous throws',
    source: 'DESIGN contracts',
    rule: ['storage.ts#invariants'],
    run: async ({ storage }) => {
      const { oid } = await createObject(storage);
      await storage.close();
      const calls: [string, () => Promise<unknown>][] = [
        ['load', () => storage.load(oid)],
        ['loadSerial', () => storage.loadSerial(oid, 1n)],
        ['newOid', () => storage.newOid()],
        ['tpcBegin', () => storage.tpcBegin(storageTransaction())],
      ];
      if (storage.capabilities.mvcc) calls.push(['loadBefore', () => storage.loadBefore(oid, 1n)]);
      if (storage.capabilities.history) calls.push(['history', () => storage.history(oid, 1)]);
      for (const [name, call] of calls) {
        let pending: Promise<unknown>;
        try {
          pending = call();
        } catch (e) {
          assert.fail(`${name}() after close threw synchronously (${String(e)}) instead of returning a rejected promise`);
        }
        await rejectsWithCode(pending, 'HANDLERTON_STORAGE_CLOSED', `${name}() after close`);
      }
    },
  },
  {
    id: 'long-metadata',
    title: 'large transaction metadata either commits intact or fails with a typed error that leaves the commit lock free',
    source: 'T96',
    rule: ['records.ts#TransactionMeta', 'storage.ts#invariants'],
    requires: ['history'],
    run: async ({ storage }) => {
      const oid = await storage.newOid();
      const description = 'd'.repeat(70_000);
      const extension = { blob: 'e'.repeat(70_000), n: 1 };
      try {
        await commit(storage, [{ oid, serial: 0n, data: 'x' }], { user: 'u'.repeat(70_000), description, extension });
        const [entry] = await storage.history(oid, 1);
        assert.ok(entry !== undefined);
        assert.equal(entry.description, description);
        assert.deepEqual(entry.extension, extension);
      } catch (e) {
        assert.ok(isHandlertonError(e), `a refused commit raises a typed error, got ${String(e)}`);
        await rejectsWithCode(storage.load(oid), 'HANDLERTON_POS_KEY', 'nothing of the refused commit is visible');
      }
      await createObject(storage, 'the commit lock is free');
    },
  },
  {
    id: 'many-objects-one-transaction',
    title: 'a transaction storing 500 objects commits them all atomically with one tid',
    source: 'T8',
    rule: ['storage.ts#Storage.tpcBegin', 'storage.ts#Storage.tpcFinish'],
    run: async ({ storage }) => {
      const oids: Oid[] = [];
      for (let i = 0; i < 500; i++) oids.push(await storage.newOid());
      const tid = await commit(storage, oids.map((oid, i) => ({ oid, serial: 0n, data: `o${i}` })));
      for (const [i, oid] of oids.entries()) await assertLoads(storage, oid, `o${i}`, tid);
    },
  },
  {
    id: 'invalid-arguments',
    title: 'out-of-range oids and tids and malformed records are rejected with InvalidArgumentError, storing nothing',
    source: 'DESIGN errors',
    rule: ['storage.ts#invariants'],
    run: async ({ storage }) => {
      const bad = [-1n, 1n << 64n];
      for (const oid of bad) {
        await rejectsWithCode(() => storage.load(oid), 'HANDLERTON_INVALID_ARGUMENT', `load(${oid})`);
        await rejectsWithCode(() => storage.loadSerial(oid, 1n), 'HANDLERTON_INVALID_ARGUMENT', `loadSerial(${oid})`);
      }
      const oid = await storage.newOid();
      const { txn } = await begin(storage);
      try {
        await rejectsWithCode(() => storage.store(-5n, 0n, rec('x'), txn), 'HANDLERTON_INVALID_ARGUMENT', 'store(-5n)');
        await rejectsWithCode(
          () => storage.store(oid, 0n, { data: 'not bytes' as unknown as Uint8Array, refs: { oids: [], blobs: [] } }, txn),
          'HANDLERTON_INVALID_ARGUMENT',
          'store with string data',
        );
      } finally {
        await storage.tpcAbort(txn);
      }
      await rejectsWithCode(() => storage.load(oid), 'HANDLERTON_POS_KEY', 'nothing was stored');
    },
  },
  {
    id: 'database-begin-commit',
    title: 'db.begin() / commit(): commit returns the new tid, ends the transaction, and later use raises TransactionClosedError',
    source: 'DESIGN Application API',
    rule: ['database.ts#Transaction.commit', 'database.ts#Transaction.active'],
    run: async (ctx) => {
      const db = await ctx.database();
      const tx = db.begin({ meta: { description: 'explicit' } });
      assert.equal(tx.active, true);
      const oid = await tx.create(new TextEncoder().encode('explicit'));
      const tid = await tx.commit();
      assert.equal(tx.active, false);
      assert.equal(db.lastTransaction(), tid);
      assert.equal((await ctx.storage.load(oid)).tid, tid);
      await rejectsWithCode(() => tx.create(new TextEncoder().encode('late')), 'HANDLERTON_TRANSACTION_CLOSED');
      await rejectsWithCode(() => tx.commit(), 'HANDLERTON_TRANSACTION_CLOSED', 'a second commit');
      await tx.abort();
    },
  },
  {
    id: 'database-begin-abort',
    title: 'db.begin() / abort(): nothing becomes visible, abort is idempotent and never throws',
    source: 'API-8',
    rule: ['database.ts#Transaction.abort'],
    run: async (ctx) => {
      const db = await ctx.database();
      const last = db.lastTransaction();
      const tx = db.begin();
      const oid = await tx.create(new TextEncoder().encode('never'));
      await tx.abort();
      await tx.abort();
      assert.equal(tx.active, false);
      assert.equal(db.lastTransaction(), last);
      await rejectsWithCode(ctx.storage.load(oid), 'HANDLERTON_POS_KEY');
    },
  },
  {
    id: 'database-read-only-commit',
    title: "committing a transaction that wrote nothing returns the view's tid and creates no transaction",
    source: 'API-9',
    rule: ['database.ts#Transaction.commit'],
    run: async (ctx) => {
      const db = await ctx.database();
      const oid = await db.transaction((tx) => tx.create(new TextEncoder().encode('x')));
      const last = db.lastTransaction();
      const tx = db.begin();
      await tx.read(oid);
      assert.equal(await tx.commit(), last);
      assert.equal(db.lastTransaction(), last);
    },
  },
  {
    id: 'database-write-keeps-refs',
    title: "tx.write without refs keeps the record's references; an explicit array replaces them and [] clears them",
    source: 'DESIGN: references are part of the object graph',
    rule: ['database.ts#WriteOptions.refs', 'database.ts#Transaction.write'],
    run: async (ctx) => {
      const db = await ctx.database();
      const enc = new TextEncoder();
      const [a, b, meta] = await db.transaction(async (tx) => {
        const first = await tx.create(enc.encode('a'));
        const second = await tx.create(enc.encode('b'));
        const m = await tx.create(enc.encode('meta v1'), { refs: [first] });
        // Within the transaction too: a rewrite of a record created here keeps its refs.
        await tx.write(m, enc.encode('meta v1b'));
        await tx.write(0n, enc.encode('root'), { refs: [m] });
        return [first, second, m];
      });
      const refsOf = async (): Promise<readonly Oid[]> => {
        const snap = await db.snapshot();
        try {
          return (await snap.read(meta)).refs;
        } finally {
          await snap.close();
        }
      };
      assert.deepEqual(await refsOf(), [a], 'a rewrite in the creating transaction kept the refs');
      await db.transaction((tx) => tx.write(meta, enc.encode('meta v2')));
      assert.deepEqual(await refsOf(), [a], 'write without refs keeps the committed refs');
      await db.transaction((tx) => tx.write(meta, enc.encode('meta v3'), {}));
      assert.deepEqual(await refsOf(), [a], 'an options object without refs keeps them too');
      await db.transaction((tx) => tx.write(meta, enc.encode('meta v4'), { refs: [b] }));
      assert.deepEqual(await refsOf(), [b], 'an explicit array replaces the refs');
      await db.transaction((tx) => tx.write(meta, enc.encode('meta v5'), { refs: [] }));
      assert.deepEqual(await refsOf(), [], '[] clears the refs');
    },
  },
]);