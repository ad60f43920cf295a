/** Regression tests for bad arguments that used to escape as untyped errors (issue 11, item 6). */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import {
  describeValue,
  handlertonId,
  InvalidArgumentError,
  InvalidConfigError,
  InvalidLocatorError,
  isHandlertonError,
  LocatorCodec,
  openDatabase,
  resolveConfig,
  RuntimeStorage,
  storageTransaction,
  UnknownEngineError,
  type Storage,
  type StorageTransaction,
} from '../src/index.js';
import { assertTransactionMeta, assertWriteOptions } from '../src/util/validate.js';

test('a path in the engine position is refused with a hint, never imported', async (t) => {
  for (const config of ['/etc/passwd:', './data', '../x:y', '~/db', 'a/b/c:']) {
    const error = await t.throwsAsync(openDatabase(config), { instanceOf: InvalidConfigError });
    t.is(error?.option, 'storage.engine', config);
    t.regex(error?.message ?? '', /looks like a path.*filestorage2:/, config);
  }
  const spec = await t.throwsAsync(openDatabase({ storage: { engine: '/etc/passwd' } }), { instanceOf: InvalidConfigError });
  t.is(spec?.option, 'storage.engine');
});

test('a malformed package name is an InvalidConfigError, not ERR_INVALID_MODULE_SPECIFIER', async (t) => {
  for (const config of ['@bad:x', '@:x', '.hidden:', 'a b:']) {
    const error = await t.throwsAsync(openDatabase(config));
    t.true(isHandlertonError(error), `${config}: ${String(error)}`);
  }
  const error = await t.throwsAsync(openDatabase('@bad:x'), { instanceOf: InvalidConfigError });
  t.is(error?.option, 'storage.engine');
});

test('a Node built-in module is not an engine package', async (t) => {
  const error = await t.throwsAsync(openDatabase('fs:'), { instanceOf: UnknownEngineError });
  t.regex(error?.message ?? '', /"fs"/);
});

test('a bare word that is no package gets the "engine:path" hint', async (t) => {
  const error = await t.throwsAsync(openDatabase('datadir'), { instanceOf: UnknownEngineError });
  t.regex(error?.message ?? '', /filestorage2:<directory>/);
});

test('null config and option values are refused, not replaced by defaults', (t) => {
  const cases: [unknown, string][] = [
    [{ engine: 'memory', options: { chunkSize: null } }, 'storage.options.chunkSize'],
    [{ storage: { engine: 'memory', options: { blobMode: null } } }, 'storage.options.blobMode'],
    [{ storage: 'memory:', blobs: { engine: 'memory', options: { chunkSize: null } } }, 'blobs.options.chunkSize'],
    [{ engine: 'memory', locatorSecret: null }, 'locatorSecret'],
    [{ engine: 'memory', storage: null }, 'storage'],
    [{ storage: 'memory:', blobs: null }, 'blobs'],
    [{ storage: { engine: 'memory', path: null } }, 'storage.path'],
  ];
  for (const [config, option] of cases) {
    const error = t.throws(() => resolveConfig(config as never), { instanceOf: InvalidConfigError });
    t.is(error?.option, option, describeValue(config));
  }
});

test('a NUL character in a path is refused by config', (t) => {
  const error = t.throws(() => resolveConfig('filestorage2:/tmp/a\0b'), { instanceOf: InvalidConfigError });
  t.is(error?.option, 'storage.path');
});

test('bigint option values get a typed error (the message formatter no longer throws)', async (t) => {
  const error = await t.throwsAsync(openDatabase({ engine: 'memory', options: { chunkSize: 5n } }), { instanceOf: InvalidConfigError });
  t.regex(error?.message ?? '', /5n/);
  t.is(describeValue(1n << 70n), `${1n << 70n}n`);
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  t.is(typeof describeValue(cyclic), 'string');
  t.is(describeValue(Symbol('s')), 'symbol');
});

test('openDatabase overrides must be an object of known services', async (t) => {
  for (const overrides of [null, 5, { clock: null }, { clock: {} }, { colour: 1 }]) {
    await t.throwsAsync(openDatabase('memory:', overrides as never), { instanceOf: InvalidArgumentError }, describeValue(overrides));
  }
});

test('locator strings: only the canonical spelling parses', (t) => {
  const codec = new LocatorCodec([randomBytes(32)], 42n);
  const locator = codec.mint({
    access: { read: true, write: false, append: false },
    mode: 'dataTransactional',
    handlertonId: handlertonId('memory'),
    oid: 7n,
    blobId: 9n,
    revision: 5n,
  });
  const text = locator.toString();
  t.is(text.length, 4 + 86);
  t.is(codec.verify(text).toString(), text);
  // 64 bytes = 85 full characters + one carrying 4 bits: its 2 low bits are unused, so 3 other spellings decode the same.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(text.at(-1)!);
  let variants = 0;
  for (let low = 1; low < 4; low++) {
    const other = text.slice(0, -1) + alphabet[last ^ low];
    t.deepEqual(Buffer.from(other.slice(4), 'base64url'), Buffer.from(text.slice(4), 'base64url'));
    t.throws(() => codec.verify(other), { instanceOf: InvalidLocatorError, message: /canonical/ });
    variants++;
  }
  t.is(variants, 3);
  t.throws(() => codec.verify(`${text}==`), { instanceOf: InvalidLocatorError });
});

test('write options: undefined or { refs: oid[] }', (t) => {
  t.notThrows(() => assertWriteOptions(undefined));
  t.notThrows(() => assertWriteOptions({ refs: [1n, 0n] }));
  const cases: [unknown, RegExp][] = [
    [null, /^options must be an object/],
    ['refs', /^options must be an object/],
    [[1n], /^options must be an object/],
    [{ refs: null }, /^options\.refs must be an array/],
    [{ refs: 1n }, /^options\.refs must be an array/],
    [{ refs: [1] }, /^options\.refs\[0\]/],
    [{ refs: [-1n] }, /^options\.refs\[0\]/],
    [{ ref: [1n] }, /^options\.ref is not an option/],
  ];
  for (const [options, message] of cases) t.throws(() => assertWriteOptions(options), { instanceOf: InvalidArgumentError, message }, describeValue(options));
});

test('transaction meta: strings and a JSON-data extension, checked once for every engine', (t) => {
  const ok = [undefined, {}, { user: 'u', description: 'd' }, { extension: { a: [1, 'x', null, true, { b: -0.5 }] } }, { user: 'é🙂'.repeat(1000) }];
  for (const meta of ok) t.notThrows(() => assertTransactionMeta(meta, 'meta'), describeValue(meta));
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  let deep: Record<string, unknown> = {};
  for (let i = 0; i < 40; i++) deep = { d: deep };
  const cases: [unknown, RegExp][] = [
    [null, /^meta must be an object/],
    ['text', /^meta must be an object/],
    [{ description: 5 }, /^meta\.description must be a string/],
    [{ user: null }, /^meta\.user must be a string/],
    [{ user: 'x'.repeat(0x10000) }, /^meta\.user is 65536 UTF-8 bytes/],
    [{ description: 'a\uD800b' }, /^meta\.description is not well-formed/],
    [{ extension: null }, /^meta\.extension must be a plain object/],
    [{ extension: [1] }, /^meta\.extension must be a plain object/],
    [{ extension: new Date() }, /^meta\.extension must be a plain object/],
    [{ extension: { n: 1n } }, /^meta\.extension\.n must be JSON data/],
    [{ extension: { f: () => 1 } }, /^meta\.extension\.f must be JSON data/],
    [{ extension: { u: undefined } }, /^meta\.extension\.u must be JSON data/],
    [{ extension: { x: NaN } }, /^meta\.extension\.x must be JSON data/],
    [{ extension: { d: new Date() } }, /^meta\.extension\.d must be JSON data/],
    [{ extension: cyclic }, /cycle/],
    [{ extension: deep }, /deeper than 32/],
    [{ extension: { big: 'x'.repeat(70_000) } }, /^meta\.extension is \d+ bytes as JSON/],
    [{ extension: { many: new Array(70_000).fill(0) } }, /larger than 65536 bytes/],
    [{ tags: [] }, /^meta\.tags is not an option/],
  ];
  for (const [meta, message] of cases) t.throws(() => assertTransactionMeta(meta, 'meta'), { instanceOf: InvalidArgumentError, message }, describeValue(meta));
});

test('RuntimeStorage.tpcBegin checks the metadata of a direct Storage user before the engine sees it', async (t) => {
  let begun = 0;
  const engine = { name: 'fake', capabilities: {}, tpcBegin: async () => { begun++; return 1n; } } as unknown as Storage;
  const storage = new RuntimeStorage(engine);
  const bad = { meta: { user: 'u', description: 7, extension: {} } } as unknown as StorageTransaction;
  await t.throwsAsync(storage.tpcBegin(bad), { instanceOf: InvalidArgumentError, message: /^txn\.meta\.description must be a string/ });
  const partial = { meta: { user: 'u', description: 'd' } } as unknown as StorageTransaction;
  await t.throwsAsync(storage.tpcBegin(partial), { instanceOf: InvalidArgumentError, message: /^txn\.meta\.extension/ });
  t.is(begun, 0);
  t.is(await storage.tpcBegin(storageTransaction({ user: 'u' })), 1n);
});
