/** storeMany: the native batch when the engine has one, else a loop; RuntimeStorage validates every write. */
import test from 'ava';
import {
  ImmutableRecord,
  InvalidArgumentError,
  NO_REFS,
  NotSupportedError,
  RuntimeStorage,
  storageCapabilities,
  storageTransaction,
  storeMany,
  type RecordRefs,
  type Storage,
  type StoreWrite,
} from '../src/index.js';

/** A storage whose record calls are logged; `native` adds a storeMany. */
function loggingStorage(native: boolean, externalGC = true): { storage: Storage; calls: string[] } {
  const calls: string[] = [];
  const unused = (): never => {
    throw new Error('not used by this test');
  };
  const storage = {
    name: 'logging',
    capabilities: storageCapabilities({ externalGC }),
    databaseId: 1n,
    newOid: unused,
    load: unused,
    loadSerial: unused,
    loadBefore: unused,
    packHorizon: () => 0n,
    lastTransaction: () => 0n,
    tpcBegin: unused,
    store: async (oid: bigint) => void calls.push(`store ${oid}`),
    deleteObject: async (oid: bigint) => void calls.push(`delete ${oid}`),
    restore: unused,
    tpcVote: unused,
    tpcFinish: unused,
    tpcAbort: async () => undefined,
    history: unused,
    iterator: unused,
    pack: unused,
    close: async () => undefined,
    ...(native ? { storeMany: async (writes: readonly StoreWrite[]) => void calls.push(`batch ${writes.length}`) } : {}),
  } as unknown as Storage;
  return { storage, calls };
}

const writes: StoreWrite[] = [
  { oid: 1n, serial: 0n, record: { data: new Uint8Array([1]), refs: NO_REFS } },
  { oid: 2n, serial: 5n, record: null },
];

test('storeMany hands the batch to the native method when the engine has one', async (t) => {
  const { storage, calls } = loggingStorage(true);
  await storeMany(storage, writes, storageTransaction());
  t.deepEqual(calls, ['batch 2']);
});

test('storeMany falls back to store / deleteObject in order when the engine has no native batch', async (t) => {
  const { storage, calls } = loggingStorage(false);
  await storeMany(storage, writes, storageTransaction());
  t.deepEqual(calls, ['store 1', 'delete 2']);
});

test('RuntimeStorage.storeMany rejects a malformed write naming it, before the engine sees any', async (t) => {
  const { storage, calls } = loggingStorage(true);
  const runtime = new RuntimeStorage(storage);
  const bad = [writes[0], { oid: 3n, serial: -1n, record: null }] as unknown as StoreWrite[];
  const error = await t.throwsAsync(runtime.storeMany(bad, storageTransaction()), { instanceOf: InvalidArgumentError });
  t.regex(error?.message ?? '', /writes\[1\]\.serial/);
  const notArray = await t.throwsAsync(runtime.storeMany('x' as unknown as StoreWrite[], storageTransaction()), { instanceOf: InvalidArgumentError });
  t.regex(notArray?.message ?? '', /writes must be an array/);
  t.deepEqual(calls, []);
});

test('RuntimeStorage.storeMany refuses a delete when the engine does not claim externalGC', async (t) => {
  const { storage, calls } = loggingStorage(false, false);
  await t.throwsAsync(new RuntimeStorage(storage).storeMany(writes, storageTransaction()), { instanceOf: NotSupportedError });
  t.deepEqual(calls, []);
});

test('RuntimeStorage.storeMany still checks records a caller made, ImmutableRecord included (only the transaction\'s own are trusted)', async (t) => {
  const { storage, calls } = loggingStorage(true);
  const runtime = new RuntimeStorage(storage);
  const badRefs = { oids: [-1n], blobs: [] } as unknown as RecordRefs;
  const bad: StoreWrite[] = [{ oid: 1n, serial: 0n, record: new ImmutableRecord(new Uint8Array(1), badRefs) }];
  const error = await t.throwsAsync(runtime.storeMany(bad, storageTransaction()), { instanceOf: InvalidArgumentError });
  t.regex(error.message, /writes\[0\]\.record\.refs\.oids\[0\]/);
  t.deepEqual(calls, []);
});
