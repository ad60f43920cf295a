import test from 'ava';
import { InvalidConfigError, silentLogger, systemClock } from '@handlerton/framework';
import type { EngineContext, EngineRequest } from '@handlerton/framework';
import * as fs from 'node:fs';
import memory, { MemoryBlobHandlerton, MemoryStorage, plugin } from '../src/index.js';

const context: EngineContext = { clock: systemClock, logger: silentLogger, fs };

function request(options: Record<string, unknown>, location?: string): EngineRequest {
  return { location, options, configPath: 'blobs' };
}

test('the plugin is named memory, exported by name and as default, with static manifests', (t) => {
  t.is(memory, plugin);
  t.is(plugin.name, 'memory');
  t.deepEqual(plugin.storageCapabilities, MemoryStorage.capabilities);
  t.deepEqual(plugin.blobCapabilities, MemoryBlobHandlerton.capabilitiesFor('dataTransactional'));
});

test('parseOptions fills defaults and freezes the result', (t) => {
  const options = plugin.parseOptions(request({}));
  t.deepEqual(options, { chunkSize: 65536, blobMode: 'dataTransactional' });
  t.true(Object.isFrozen(options));
  t.deepEqual(plugin.parseOptions(request({ chunkSize: 4096, blobMode: 'nontransactional' }, '')), {
    chunkSize: 4096,
    blobMode: 'nontransactional',
  });
  t.is(plugin.parseOptions(request({ chunkSize: 16 * 1024 * 1024 })).chunkSize, 16 * 1024 * 1024);
});

const rejected: [string, Record<string, unknown>, string | undefined, string][] = [
  ['a chunk size that is not a power of two', { chunkSize: 5000 }, undefined, 'blobs.options.chunkSize'],
  ['a chunk size below 4 KiB', { chunkSize: 2048 }, undefined, 'blobs.options.chunkSize'],
  ['a chunk size above 16 MiB', { chunkSize: 32 * 1024 * 1024 }, undefined, 'blobs.options.chunkSize'],
  ['a chunk size given as a string', { chunkSize: '65536' }, undefined, 'blobs.options.chunkSize'],
  ['a fractional chunk size', { chunkSize: 4096.5 }, undefined, 'blobs.options.chunkSize'],
  ['an unknown blob mode', { blobMode: 'sometimes' }, undefined, 'blobs.options.blobMode'],
  ['a blob mode of the wrong type', { blobMode: 3 }, undefined, 'blobs.options.blobMode'],
  ['an unknown option', { path: '/tmp/x' }, undefined, 'blobs.options.path'],
  ['a location', {}, './data', 'blobs.location'],
];
for (const [what, options, location, path] of rejected) {
  test(`parseOptions rejects ${what}`, (t) => {
    const error = t.throws(() => plugin.parseOptions(request(options, location)), { instanceOf: InvalidConfigError });
    t.is(error?.option, path);
    t.true(error!.message.includes(path));
  });
}

test('createStorage and createBlobHandlerton give working engines with the chosen options', async (t) => {
  const storage = await plugin.createStorage!(plugin.parseOptions(request({})), context);
  t.is(storage.name, 'memory');
  t.is(storage.lastTransaction(), 0n);
  await storage.close();
  const options = plugin.parseOptions(request({ chunkSize: 8192, blobMode: 'transactional' }));
  const blobs = await plugin.createBlobHandlerton!(options, context);
  t.is(blobs.capabilities.mode, 'transactional');
  t.is((blobs as MemoryBlobHandlerton).chunkSize, 8192);
  await blobs.close();
});
