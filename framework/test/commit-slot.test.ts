import test from 'ava';
import { StorageTransactionError, storageTransaction } from '../src/index.js';
import { CommitSlot, checkDeleteSerial, checkStoreSerial, copyRecordIn, type CommitState } from '../src/kit/index.js';

interface State extends CommitState {
  readonly n: number;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('CommitSlot: one transaction at a time, first come first served; the 2PC checks name the misuse', async (t) => {
  const slot = new CommitSlot<State>('test');
  const [a, b, c] = [storageTransaction(), storageTransaction(), storageTransaction()];
  const order: string[] = [];
  const first = await slot.begin(a, () => ({ txn: a, voted: false, n: 1 }));
  const second = slot.begin(b, () => (order.push('b'), { txn: b, voted: false, n: 2 }));
  const third = slot.begin(c, () => (order.push('c'), { txn: c, voted: false, n: 3 }));
  await tick();
  t.deepEqual(order, [], 'the others wait while a holds the lock');
  await t.throwsAsync(slot.begin(a, () => first), { instanceOf: StorageTransactionError, message: /already begun/ });
  t.throws(() => slot.writing(b), { instanceOf: StorageTransactionError, message: /not the one committing/ });
  slot.writing(a).voted = true;
  t.throws(() => slot.writing(a), { message: /already voted/ });
  t.is(slot.active(a).n, 1);
  slot.end(a);
  t.is((await second).n, 2);
  slot.end(b);
  t.is((await third).n, 3);
  t.deepEqual(order, ['b', 'c']);
});

test('CommitSlot: a waiter aborted before its turn gives up; a failing start passes the lock on; close wakes waiters', async (t) => {
  const slot = new CommitSlot<State>('test');
  const [a, b, c, d] = [storageTransaction(), storageTransaction(), storageTransaction(), storageTransaction()];
  await slot.begin(a, () => ({ txn: a, voted: false, n: 1 }));
  const abandoned = slot.begin(b, () => ({ txn: b, voted: false, n: 2 }));
  const failing = slot.begin(c, () => {
    throw new Error('start failed');
  });
  t.is(slot.abort(b), undefined, 'a waiting transaction has no state to undo');
  slot.end(a);
  await t.throwsAsync(abandoned, { instanceOf: StorageTransactionError, message: /aborted before it began/ });
  await t.throwsAsync(failing, { message: 'start failed' });
  const state = await slot.begin(d, () => ({ txn: d, voted: false, n: 4 }));
  t.is(state.n, 4, 'the lock reached d after b gave up and c failed');
  const waiting = slot.begin(a, () => ({ txn: a, voted: false, n: 5 }));
  slot.close();
  await t.throwsAsync(waiting, { code: 'HANDLERTON_STORAGE_CLOSED' } as never);
  t.throws(() => slot.checkOpen(), { message: 'the test storage is closed' });
});

test('serial rules: stale writes conflict, deleted objects are recreated with 0 or the marker tid, only current revisions delete', (t) => {
  checkStoreSerial(1n, undefined, 0n);
  checkStoreSerial(1n, { tid: 5n, deleted: false }, 5n);
  t.throws(() => checkStoreSerial(1n, { tid: 5n, deleted: false }, 4n), { code: 'HANDLERTON_CONFLICT' } as never);
  checkStoreSerial(1n, { tid: 5n, deleted: true }, 0n);
  checkStoreSerial(1n, { tid: 5n, deleted: true }, 5n);
  t.throws(() => checkDeleteSerial(1n, { tid: 5n, deleted: true }, 5n), { code: 'HANDLERTON_POS_KEY' } as never);
  t.throws(() => checkDeleteSerial(1n, { tid: 5n, deleted: false }, 3n), { code: 'HANDLERTON_CONFLICT' } as never);
  checkDeleteSerial(1n, { tid: 5n, deleted: false }, 5n);
});

test('copyRecordIn copies the bytes and freezes validated references', (t) => {
  const data = new Uint8Array([1, 2, 3]);
  const copy = copyRecordIn({ data, refs: { oids: [7n], blobs: [] } });
  data[0] = 9;
  t.deepEqual([...copy.data], [1, 2, 3]);
  t.true(Object.isFrozen(copy.refs));
  t.throws(() => copyRecordIn({ data, refs: { oids: [-1n], blobs: [] } }), { message: /record\.refs\.oids\[0\]/ });
});
