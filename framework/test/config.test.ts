import test from 'ava';
import { InvalidConfigError, openDatabase, resolveConfig, UnknownEngineError } from '../src/index.js';

test('URL-like strings name the engine and its location', (t) => {
  const memory = resolveConfig('memory:');
  t.is(memory.storage.engine, 'memory');
  t.is(memory.storage.location, undefined);
  t.is(memory.blobs.engine, 'memory');
  const fs2 = resolveConfig('filestorage2:./data');
  t.is(fs2.storage.location, './data');
  t.is(fs2.blobs.location, './data');
  const scoped = resolveConfig('@acme/engine:/var/db');
  t.is(scoped.storage.engine, '@acme/engine');
  t.is(scoped.storage.location, '/var/db');
});

test('storage and blobs can name different engines; blobs default beside the storage', (t) => {
  const mixed = resolveConfig({ storage: 'filestorage2:/d', blobs: 'sqlite' });
  t.is(mixed.storage.engine, 'filestorage2');
  t.is(mixed.blobs.engine, 'sqlite');
  t.is(mixed.blobs.location, '/d.sqlite');
  const explicit = resolveConfig({ storage: { engine: 'sqlite', path: 'a.db', options: { synchronous: 'full' } }, blobs: { engine: 'filestorage2', path: '/blobs' } });
  t.deepEqual(explicit.storage.options, { synchronous: 'full' });
  t.is(explicit.blobs.location, '/blobs');
  t.is(resolveConfig({ engine: 'memory', options: { chunkSize: 4096 } }).storage.options['chunkSize'], 4096);
});

test('bad config raises InvalidConfigError naming the option', (t) => {
  const cases: [unknown, string][] = [
    [{ engine: 'memory', colour: 'blue' }, 'colour'],
    [{ storage: { engine: 'memory', pth: 'x' } }, 'storage.pth'],
    [{ storage: { engine: 'memory', options: 3 } }, 'storage.options'],
    [{ storage: { engine: 42 } }, 'storage.engine'],
    [{ engine: 'memory', locatorSecret: 'short' }, 'locatorSecret'],
    [{}, 'storage'],
    [{ engine: 'memory', storage: 'memory:' }, 'engine'],
    [7, ''],
  ];
  for (const [config, option] of cases) {
    const error = t.throws(() => resolveConfig(config as never), { instanceOf: InvalidConfigError });
    t.is(error?.option, option, JSON.stringify(config));
    t.is(error?.code, 'HANDLERTON_INVALID_CONFIG');
  }
});

test('an engine that is neither built in nor a package raises UnknownEngineError', async (t) => {
  const error = await t.throwsAsync(openDatabase('no-such-engine-xyz:'), { instanceOf: UnknownEngineError });
  t.is(error?.code, 'HANDLERTON_UNKNOWN_ENGINE');
  t.regex(error?.message ?? '', /no-such-engine-xyz/);
});
