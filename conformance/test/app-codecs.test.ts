/** Issue 16: record codecs (config `codec`): typed values at the Database API, refs kept, bad values refused with nothing written. */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, InvalidConfigError, openDatabase, ROOT_OID, type RecordCodec } from '@handlerton/framework';

const ENGINES = ['memory', 'filestorage2', 'sqlite'] as const;

async function location(t: { teardown(fn: () => Promise<void>): void }, engine: (typeof ENGINES)[number]): Promise<string> {
  if (engine === 'memory') return 'memory:';
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-codecs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return engine === 'sqlite' ? `sqlite:${join(dir, 'app.db')}` : `filestorage2:${join(dir, 'data')}`;
}

interface Doc {
  readonly title: string;
  readonly tags: readonly string[];
  readonly child?: number;
}

for (const engine of ENGINES) {
  test(`${engine}: the json codec stores values as JSON, keeps refs, and survives a reopen`, async (t) => {
    const where = await location(t, engine);
    let db = await openDatabase<Doc>({ storage: where, codec: 'json' });
    const child = await db.transaction(async (tx) => {
      const oid = await tx.create({ title: 'child', tags: [] });
      await tx.write(ROOT_OID, { title: 'root', tags: ['a', 'b'], child: Number(oid) }, { refs: [oid] });
      return oid;
    });
    // A write without refs keeps the references, as with bytes.
    await db.transaction(async (tx) => tx.write(ROOT_OID, { ...(await tx.read(ROOT_OID)).value, title: 'root 2' }));
    if (engine !== 'memory') {
      await db.close();
      db = await openDatabase<Doc>({ storage: where, codec: 'json' });
    }
    const snapshot = await db.snapshot();
    const root = await snapshot.read(ROOT_OID);
    t.deepEqual(root.value, { title: 'root 2', tags: ['a', 'b'], child: Number(child) });
    t.deepEqual(root.refs, [child]);
    t.is(new TextDecoder().decode(root.data), JSON.stringify({ title: 'root 2', tags: ['a', 'b'], child: Number(child) }));
    t.deepEqual((await snapshot.read(child)).value, { title: 'child', tags: [] });
    await snapshot.close();
    // The collector follows the declared refs: nothing is garbage.
    if (db.capabilities.storage.externalGC) t.is((await db.collectGarbage({ keep: 0, dryRun: true })).garbage, 0);
    await db.close();
  });
}

test('the v8 codec keeps what JSON cannot (bigint, Date, Map, typed arrays, undefined)', async (t) => {
  const db = await openDatabase({ engine: 'memory', codec: 'v8' });
  try {
    const value = { n: 2n ** 70n, when: new Date(0), map: new Map([['k', [1, 2]]]), bytes: new Uint8Array([1, 2, 3]), missing: undefined };
    const oid = await db.transaction(async (tx) => tx.create(value));
    const snapshot = await db.snapshot();
    t.deepEqual((await snapshot.read(oid)).value, value);
    await snapshot.close();
  } finally {
    await db.close();
  }
});

test('a value the codec cannot encode raises InvalidArgumentError naming the argument, and nothing is written', async (t) => {
  for (const codec of ['json', 'v8'] as const) {
    const db = await openDatabase({ engine: 'memory', codec });
    try {
      await db.transaction(async (tx) => tx.write(ROOT_OID, { ok: 1 }));
      const before = db.lastTransaction();
      const bad = codec === 'json' ? { items: [1, 2, 3n] } : { fn: () => 1 };
      const tx = db.begin();
      const writeError = await t.throwsAsync(tx.write(ROOT_OID, bad), { instanceOf: InvalidArgumentError });
      t.regex(writeError?.message ?? '', codec === 'json' ? /^value\.items\[2\] is 3n, which is not JSON data/ : /^value cannot be encoded by codec "v8"/);
      const createError = await t.throwsAsync(tx.create(bad), { instanceOf: InvalidArgumentError });
      t.is(createError?.code, 'HANDLERTON_INVALID_ARGUMENT');
      // The transaction is still usable and holds no write: its commit changes nothing.
      t.true(tx.active);
      t.deepEqual((await tx.read(ROOT_OID)).value, { ok: 1 });
      await tx.commit();
      t.is(db.lastTransaction(), before);
      const snapshot = await db.snapshot();
      t.deepEqual((await snapshot.read(ROOT_OID)).value, { ok: 1 });
      await snapshot.close();
    } finally {
      await db.close();
    }
  }
  const json = await openDatabase({ engine: 'memory', codec: 'json' });
  try {
    for (const [bad, where] of [[{ a: undefined }, 'value.a'], [[1, Number.NaN], 'value[1]'], [new Date(0), 'value'], [{ m: new Map() }, 'value.m']] as const) {
      const error = await t.throwsAsync(json.transaction(async (tx) => tx.write(ROOT_OID, bad)), { instanceOf: InvalidArgumentError });
      t.true(error?.message.startsWith(`${where} is `), error?.message);
    }
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    await t.throwsAsync(json.transaction(async (tx) => tx.write(ROOT_OID, cyclic)), { instanceOf: InvalidArgumentError, message: /value\.self is a cycle/ });
  } finally {
    await json.close();
  }
});

test('bytes stay the default; a custom codec is used as given; a bad codec or undecodable bytes are typed errors', async (t) => {
  const upper: RecordCodec<string> = {
    name: 'upper',
    encode: (value) => new TextEncoder().encode(value.toUpperCase()),
    decode: (data) => new TextDecoder().decode(data),
  };
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-codecs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const where = `filestorage2:${join(dir, 'data')}`;
  const custom = await openDatabase({ storage: where, codec: upper });
  await custom.transaction(async (tx) => tx.write(ROOT_OID, 'hello'));
  await custom.close();
  const bytes = await openDatabase(where);
  const snapshot = await bytes.snapshot();
  const record = await snapshot.read(ROOT_OID);
  t.deepEqual(record.value, new TextEncoder().encode('HELLO'));
  t.is(record.value, record.data);
  await snapshot.close();
  await bytes.close();
  // Bytes written as text are not JSON: reading the value says so (the bytes stay readable).
  const json = await openDatabase({ storage: where, codec: 'json' });
  const view = await json.snapshot();
  const read = await view.read(ROOT_OID);
  t.deepEqual([...read.data], [...new TextEncoder().encode('HELLO')]);
  const error = t.throws(() => read.value, { instanceOf: InvalidConfigError });
  t.is(error?.option, 'codec');
  t.regex(error?.message ?? '', /cannot be decoded by codec "json"/);
  await view.close();
  await json.close();
  for (const bad of ['yaml', { name: 'x', encode: 1 }, 42]) {
    const configError = await t.throwsAsync(openDatabase({ engine: 'memory', codec: bad } as never), { instanceOf: InvalidConfigError });
    t.is(configError?.option, 'codec');
  }
});
