/** The harness target: config layout under one directory, the memory engine without a path, typed errors. */
import test from 'ava';
import { isHandlertonError, openDatabase } from '@handlerton/framework';
import { harnessTarget, targetFromArgs } from '../src/harnesses/target.js';

test('one engine keeps its files under dir/data, a mixed pair under dir/records and dir/blobs', (t) => {
  t.deepEqual(harnessTarget({ engine: 'filestorage2' }).config('/d'), { engine: 'filestorage2', path: '/d/data', options: {} });
  const mixed = harnessTarget({ engine: 'filestorage2', blobs: 'sqlite', blobOptions: { chunkSize: 65536 } });
  t.is(mixed.label, 'filestorage2+sqlite');
  t.deepEqual(mixed.config('/d'), {
    storage: { engine: 'filestorage2', path: '/d/records', options: {} },
    blobs: { engine: 'sqlite', path: '/d/blobs', options: { chunkSize: 65536 } },
  });
});

test('the memory engine gets no path, so a harness can open it', async (t) => {
  const db = await openDatabase(harnessTarget({ engine: 'memory' }).config('/nowhere'));
  t.is(db.lastTransaction(), 0n);
  await db.close();
});

test('bad target arguments are typed errors naming the flag', (t) => {
  for (const [values, flag] of [
    [{}, '--engine'],
    [{ engine: 'filestorage2:./x' }, '--engine'],
    [{ engine: 'memory', blobs: '' }, '--blobs'],
    [{ engine: 'memory', options: '{' }, '--options'],
    [{ engine: 'memory', 'blob-options': '[1]' }, '--blob-options'],
  ] as const) {
    const error = t.throws(() => targetFromArgs(values));
    t.true(isHandlertonError(error, 'HANDLERTON_INVALID_ARGUMENT'), String(error));
    t.true(error?.message.includes(flag), `${error?.message} names ${flag}`);
  }
});
