import { join } from 'node:path';
import test from 'ava';
import { isHandlertonError, NO_REFS, storageTransaction, type InvalidConfigError } from '@handlerton/framework';
import plugin from '../src/index.js';
import { bytes, context, tempDir, text } from './fs2-helpers.js';

const parse = (location: string | undefined, options: Record<string, unknown> = {}) =>
  plugin.parseOptions({ location, options, configPath: 'storage' });

test('manifests and name', (t) => {
  t.is(plugin.name, 'filestorage2');
  t.deepEqual({ ...plugin.storageCapabilities }, {
    mvcc: true,
    history: true,
    iterator: true,
    restore: true,
    pack: true,
    externalGC: true,
    undo: false,
    durable: true,
    crashSafe: true,
    readOnly: false,
    multiClient: false,
  });
  t.is(plugin.blobCapabilities?.mode, 'dataTransactional');
});

test('parseOptions rejects a missing location and unknown or wrong options, naming them', (t) => {
  const cases: [string | undefined, Record<string, unknown>, string][] = [
    [undefined, {}, 'storage.location'],
    ['', {}, 'storage.location'],
    ['/x', { sync: 'always' }, 'storage.options.sync'],
    ['/x', { syncMode: 'sometimes' }, 'storage.options.syncMode'],
    ['/x', { segmentSize: 10 }, 'storage.options.segmentSize'],
    ['/x', { segmentSize: '64MiB' }, 'storage.options.segmentSize'],
    ['/x', { readOnly: 'yes' }, 'storage.options.readOnly'],
    ['/x', { inlineSync: 1 }, 'storage.options.inlineSync'],
  ];
  for (const [location, options, option] of cases) {
    const err = t.throws(() => parse(location, options));
    t.true(isHandlertonError(err, 'HANDLERTON_INVALID_CONFIG'));
    t.is((err as InvalidConfigError).option, option);
    t.true(err!.message.includes(option));
  }
  t.deepEqual({ ...parse('/x') }, { directory: '/x', syncMode: 'always', segmentSize: 64 * 1024 * 1024, readOnly: false, archivePacked: false, inlineSync: true, configPath: 'storage' });
  t.is(parse('/x', { syncMode: 'batch', segmentSize: 8192, readOnly: true })['syncMode'], 'batch');
});

test('createStorage and createBlobHandlerton open in the location; the database id is stable', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const location = join(dir, 'db');
    const storage = await plugin.createStorage!(parse(location), context());
    const blobs = await plugin.createBlobHandlerton!(parse(location), context());
    const id = storage.databaseId;
    const txn = storageTransaction();
    await storage.tpcBegin(txn);
    await storage.store(1n, 0n, { data: bytes('p'), refs: NO_REFS }, txn);
    await storage.tpcVote(txn);
    await storage.tpcFinish(txn);
    await blobs.close();
    await storage.close();
    const again = await plugin.createStorage!(parse(location), context());
    t.is(again.databaseId, id);
    t.is(text((await again.load(1n)).data), 'p');
    await again.close();
  } finally {
    await cleanup();
  }
});
