import test from 'ava';
import { isHandlertonError, InvalidConfigError } from '@handlerton/framework';
import { DEFAULT_CHUNK_SIZE, parseSqliteOptions, plugin } from '../src/index.js';
import defaultPlugin from '../src/index.js';

const request = (options: Record<string, unknown>, ...where: [string | undefined] | []) => ({
  location: where.length === 0 ? '/tmp/x.db' : where[0],
  options,
  configPath: 'storage',
});

test('defaults', (t) => {
  const parsed = parseSqliteOptions(request({}));
  t.deepEqual(parsed, { location: '/tmp/x.db', synchronous: 'full', chunkSize: DEFAULT_CHUNK_SIZE, busyTimeoutMs: 2000, readOnly: false });
  t.true(Object.isFrozen(parsed));
  t.deepEqual(plugin.parseOptions(request({ synchronous: 'normal', chunkSize: 65536, busyTimeoutMs: 10 })), {
    location: '/tmp/x.db',
    synchronous: 'normal',
    chunkSize: 65536,
    busyTimeoutMs: 10,
    readOnly: false,
  });
  t.true(parseSqliteOptions(request({ readOnly: true })).readOnly);
});

for (const [name, options, location, option] of [
  ['missing location', {}, undefined, 'storage.location'],
  ['unknown option', { syncMode: 'full' }, '/tmp/x.db', 'storage.options.syncMode'],
  ['bad synchronous', { synchronous: 'off' }, '/tmp/x.db', 'storage.options.synchronous'],
  ['chunkSize not integer', { chunkSize: 1.5 }, '/tmp/x.db', 'storage.options.chunkSize'],
  ['chunkSize too small', { chunkSize: 16 }, '/tmp/x.db', 'storage.options.chunkSize'],
  ['chunkSize as string', { chunkSize: '256k' }, '/tmp/x.db', 'storage.options.chunkSize'],
  ['busyTimeoutMs negative', { busyTimeoutMs: -1 }, '/tmp/x.db', 'storage.options.busyTimeoutMs'],
  ['readOnly as string', { readOnly: 'yes' }, '/tmp/x.db', 'storage.options.readOnly'],
] as const) {
  test(`invalid config: ${name}`, (t) => {
    const error = t.throws(() => plugin.parseOptions(request({ ...options }, location)));
    t.true(isHandlertonError(error, 'HANDLERTON_INVALID_CONFIG'));
    t.true(error instanceof InvalidConfigError);
    t.is((error as InvalidConfigError).option, option);
    t.true(error!.message.includes(option.split('.').pop()!));
  });
}

test('plugin manifest', (t) => {
  t.is(defaultPlugin, plugin);
  t.is(plugin.name, 'sqlite-blobs');
  t.deepEqual(plugin.aliases, ['sqlite']);
  t.is(plugin.blobCapabilities?.mode, 'dataTransactional');
  t.true(plugin.blobCapabilities?.partialUpdate);
  t.true(plugin.storageCapabilities?.crashSafe);
});
