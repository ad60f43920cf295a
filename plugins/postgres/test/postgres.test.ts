/**
 * The PostgreSQL engine beyond the conformance suite: options, the throwaway server helper, and
 * several clients on one schema (each PgStorage is its own client: its own pool of connections).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import pg from 'pg';
import {
  ConflictError,
  openDatabase,
  InvalidConfigError,
  NO_REFS,
  silentLogger,
  storageTransaction,
  systemClock,
  type Storage,
  type Tid,
} from '@handlerton/framework';
import { parsePgOptions, plugin } from '../src/index.js';
import { findServerBinaries, startTestServer, startTestServerOrSkip, type TestServer } from '../src/testing/index.js';

const started = await startTestServerOrSkip();
const server: TestServer | undefined = 'server' in started ? started.server : undefined;
const skipReason = 'skip' in started ? started.skip : '';
test.after.always('stop the PostgreSQL test server', async () => {
  await server?.stop();
});
const pgTest = server === undefined ? test.skip : test.serial;

const context = { clock: systemClock, logger: silentLogger, fs };

async function openClient(schema: string, extra: Record<string, unknown> = {}): Promise<Storage> {
  const options = plugin.parseOptions({ location: server!.url, options: { schema, poolSize: 2, ...extra }, configPath: 'storage' });
  return plugin.createStorage!(options, context);
}

async function commit(storage: Storage, oid: bigint, serial: Tid, byte: number): Promise<Tid> {
  const txn = storageTransaction();
  await storage.tpcBegin(txn);
  try {
    await storage.store(oid, serial, { data: new Uint8Array([byte]), refs: NO_REFS }, txn);
    await storage.tpcVote(txn);
  } catch (error) {
    await storage.tpcAbort(txn);
    throw error;
  }
  return storage.tpcFinish(txn);
}

test('options: the connection string comes from the path or options.url; bad options name themselves', (t) => {
  const fromPath = parsePgOptions({ location: 'postgresql://u@h/db', options: {}, configPath: 'storage' });
  t.is(fromPath.url, 'postgresql://u@h/db');
  t.is(fromPath.schema, 'handlerton');
  t.is(parsePgOptions({ location: undefined, options: { url: 'postgres://x/y' }, configPath: 'storage' }).url, 'postgres://x/y');
  const bad = (options: Record<string, unknown>, location: string | undefined = 'postgresql://h/d') =>
    t.throws(() => parsePgOptions({ location, options, configPath: 'storage' }), { instanceOf: InvalidConfigError });
  t.regex(t.throws(() => parsePgOptions({ location: undefined, options: {}, configPath: 'storage' }), { instanceOf: InvalidConfigError })!.message, /connection string/);
  t.regex(bad({}, './data')!.message, /connection string/);
  t.regex(bad({ schema: 'Robert"; drop' })!.message, /storage\.options\.schema/);
  t.regex(bad({ poolSize: 0 })!.message, /storage\.options\.poolSize/);
  t.regex(bad({ chunkSize: 100 })!.message, /storage\.options\.chunkSize/);
  t.regex(bad({ lockTimeoutMs: 1.5 })!.message, /storage\.options\.lockTimeoutMs/);
  t.regex(bad({ colour: 'red' })!.message, /storage\.options\.colour: unknown option/);
});

test('findServerBinaries: null for a directory without server binaries', (t) => {
  t.is(findServerBinaries('/nonexistent-handlerton-dir'), null);
});

if (server === undefined) test.skip(skipReason, (t) => t.pass());

pgTest('a private cluster is removed by stop(), and by the watchdog when its owner is SIGKILLed', async (t) => {
  if (server!.origin !== 'cluster') return t.pass();
  // A child process starts its own cluster and is killed: the watchdog must stop the server and remove its directory.
  const script = `import { startTestServer } from ${JSON.stringify(new URL('../src/testing/index.js', import.meta.url).href)};
    const r = await startTestServer(); const host = decodeURIComponent(/host=([^&]+)/.exec(r.server.url)[1]);
    process.stdout.write(host + '\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', () => reject(new Error('the child exited before its server started')));
  });
  t.true(existsSync(dir), 'the cluster directory exists while its owner runs');
  child.kill('SIGKILL');
  const deadline = Date.now() + 30_000;
  while (existsSync(dir) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  t.false(existsSync(dir), 'the watchdog removed the cluster directory after its owner died');
  return undefined;
});

pgTest('a private cluster runs with fsync off by default and durable (fsync, synchronous_commit on) when asked', async (t) => {
  if (server!.origin !== 'cluster') return t.pass();
  const settings = async (url: string): Promise<string> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ s: string }>(
        `select current_setting('fsync') || ',' || current_setting('synchronous_commit') || ',' || current_setting('full_page_writes') as s`,
      );
      return rows[0]!.s;
    } finally {
      await client.end();
    }
  };
  t.is(await settings(server!.url), 'off,off,off', 'the functional-test server trades durability for speed');
  const durable = await startTestServer({ durable: true });
  if (!('server' in durable)) return t.fail(durable.skip);
  try {
    t.is(await settings(durable.server.url), 'on,on,on');
  } finally {
    await durable.server.stop();
  }
  return undefined;
});

pgTest('two clients: tids increase across both, a stale serial is a ConflictError, each sees the other\'s commits', async (t) => {
  const schema = server!.newSchemaName('mc');
  const [a, b] = [await openClient(schema), await openClient(schema)];
  try {
    t.is(a.databaseId, b.databaseId, 'one database, one id');
    const t1 = await commit(a, 1n, 0n, 1);
    const t2 = await commit(b, 1n, t1, 2);
    t.true(t2 > t1);
    await t.throwsAsync(commit(a, 1n, t1, 3), { instanceOf: ConflictError }, 'a stale serial written by the other client');
    t.is((await a.load(1n)).data[0], 2, 'a reads what b committed');
    const inv = await a.invalidationsSince!(t1);
    t.deepEqual(inv, { tid: t2, oids: [1n] });
    t.is(a.lastTransaction(), t2, 'lastTransaction moved to the other client\'s commit after the poll');
    // Interleaved concurrent commits of distinct objects from both clients: every tid distinct and increasing per client.
    const tids = await Promise.all([...Array(20).keys()].map((i) => commit(i % 2 === 0 ? a : b, 100n + BigInt(i), 0n, i)));
    t.is(new Set(tids).size, tids.length);
    // The iterator is a snapshot at this client's lastTransaction(): poll first to include b's newest commits.
    await a.invalidationsSince!(t2);
    const iterated: Tid[] = [];
    for await (const txn of a.iterator()) iterated.push(txn.tid);
    t.deepEqual(iterated, [...iterated].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    t.is(iterated.length, 22);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await server!.dropSchema(schema);
  }
});

pgTest('a client SIGKILLed after vote leaves no lock: the other client commits at once', async (t) => {
  const schema = server!.newSchemaName('kill');
  const survivor = await openClient(schema, { lockTimeoutMs: 20_000 });
  try {
    const first = await commit(survivor, 1n, 0n, 1);
    const fixture = fileURLToPath(new URL('./fixtures/commit-and-hang.js', import.meta.url));
    const child = spawn(process.execPath, [fixture, server!.url, schema, first.toString()], { stdio: ['ignore', 'pipe', 'inherit'] });
    const voted = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.once('exit', (code) => reject(new Error(`the child exited (${code}) before voting`)));
    });
    t.regex(voted, /^voted \d+$/);
    const check = new pg.Client({ connectionString: server!.url });
    await check.connect();
    const held = await check.query(`select count(*)::int as n from pg_locks where locktype = 'advisory' and granted`);
    t.true(held.rows[0].n >= 1, 'the child holds the commit lock');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const second = await commit(survivor, 1n, first, 2);
    t.true(second > first);
    t.is((await survivor.load(1n)).data[0], 2, 'the killed client\'s voted write never became visible');
    const left = await check.query(`select count(*)::int as n from pg_locks where locktype = 'advisory'`);
    t.is(left.rows[0].n, 0, 'no advisory lock is left');
    await check.end();
  } finally {
    await survivor.close();
    await server!.dropSchema(schema);
  }
});

pgTest('three client processes increment one counter concurrently: the result equals the serial count, tids strictly increase', async (t) => {
  const schema = server!.newSchemaName('procs');
  const setup = await openClient(schema);
  try {
    const start = new Uint8Array(4);
    const first = await commit(setup, 1n, 0n, 0);
    t.true(first > 0n);
    await (async () => {
      const txn = storageTransaction();
      await setup.tpcBegin(txn);
      await setup.store(1n, first, { data: start, refs: NO_REFS }, txn);
      await setup.tpcVote(txn);
      await setup.tpcFinish(txn);
    })();
    const rounds = 15;
    const fixture = fileURLToPath(new URL('./fixtures/counter-client.js', import.meta.url));
    const outputs = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<string[]>((resolve, reject) => {
            const child = spawn(process.execPath, [fixture, server!.url, schema, String(rounds)], { stdio: ['ignore', 'pipe', 'inherit'] });
            let out = '';
            child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
            child.once('exit', (code) => (code === 0 ? resolve(out.trim().split('\n')) : reject(new Error(`a client exited with ${code}`))));
          }),
      ),
    );
    const tids = outputs.flatMap((lines) => lines.filter((l) => /^\d+$/.test(l)).map((l) => BigInt(l)));
    t.is(tids.length, 3 * rounds);
    t.is(new Set(tids).size, tids.length, 'every commit got its own tid');
    const loaded = await setup.load(1n);
    t.is(new DataView(loaded.data.buffer, loaded.data.byteOffset).getUint32(0), 3 * rounds, 'no increment lost');
    // Each client's own tids increase, and the history orders every commit by tid.
    for (const lines of outputs) {
      const own = lines.filter((l) => /^\d+$/.test(l)).map((l) => BigInt(l));
      t.deepEqual(own, [...own].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    }
    const history = await setup.history(1n, 100);
    t.is(history.length, 3 * rounds + 2);
    t.deepEqual(history.map((h) => h.tid).slice(0, 3 * rounds), [...tids].sort((x, y) => (x < y ? 1 : x > y ? -1 : 0)));
  } finally {
    await setup.close();
    await server!.dropSchema(schema);
  }
});

pgTest('invalidationsSince reports the other clients\' commits, not this client\'s own', async (t) => {
  const schema = server!.newSchemaName('inv');
  const [a, b] = [await openClient(schema), await openClient(schema)];
  try {
    const t0 = a.lastTransaction();
    const ta = await commit(a, 1n, 0n, 1);
    const tb = await commit(b, 2n, 0n, 2);
    await commit(a, 3n, 0n, 3);
    const seenByA = await a.invalidationsSince!(t0);
    t.deepEqual(seenByA.oids, [2n], 'a is told only of b\'s object');
    t.true(seenByA.tid > tb);
    t.deepEqual([...(await b.invalidationsSince!(t0)).oids!].sort(), [1n, 3n], 'b is told of both of a\'s objects');
    t.deepEqual((await b.invalidationsSince!(ta)).oids, [3n]);
    t.deepEqual((await a.invalidationsSince!(seenByA.tid)).oids, [], 'nothing new');
  } finally {
    await Promise.all([a.close(), b.close()]);
    await server!.dropSchema(schema);
  }
});

pgTest('Database: its own commits keep its record cache warm; another client\'s commit still invalidates it', async (t) => {
  const schema = server!.newSchemaName('cache');
  const config = { engine: 'postgres', path: server!.url, options: { schema, poolSize: 2 } };
  const [a, b] = [await openDatabase(config), await openDatabase(config)];
  try {
    const oids = await a.transaction(async (tx) => Promise.all([1, 2, 3].map((v) => tx.create(new Uint8Array([v])))));
    for (let round = 0; round < 3; round += 1) await a.transaction(async (tx) => { for (const oid of oids) await tx.write(oid, new Uint8Array([10 + round])); });
    const before = a.recordCacheStats()!;
    await a.transaction(async (tx) => { for (const oid of oids) t.is((await tx.read(oid)).data[0], 12); });
    t.is(a.recordCacheStats()!.misses, before.misses, 'reads after its own commits are cache hits');
    await b.transaction(async (tx) => tx.write(oids[0]!, new Uint8Array([99])));
    t.is(await a.transaction(async (tx) => (await tx.read(oids[0]!)).data[0]), 99, 'a sees b\'s commit');
    t.is(a.recordCacheStats()!.misses, before.misses + 1, 'only the object b changed was read again');
  } finally {
    await Promise.all([a.close(), b.close()]);
    await server!.dropSchema(schema);
  }
});

pgTest('Database: a transaction that starts after another client\'s commit sees it (Storage.sync), with the record cache on', async (t) => {
  const schema = server!.newSchemaName('sync');
  const config = { engine: 'postgres', path: server!.url, options: { schema, poolSize: 2 } };
  const [a, b] = [await openDatabase(config), await openDatabase(config)];
  try {
    const oid = await a.transaction(async (tx) => {
      const created = await tx.create(new Uint8Array([1]));
      return created;
    });
    // b reads it once (into its record cache), then a changes it.
    t.deepEqual([...(await b.transaction(async (tx) => (await tx.read(oid)).data))], [1]);
    await a.transaction(async (tx) => tx.write(oid, new Uint8Array([2])));
    t.deepEqual([...(await b.transaction(async (tx) => (await tx.read(oid)).data))], [2], 'b sees a\'s commit in its next transaction');
    const snapshot = await b.snapshot();
    t.deepEqual([...(await snapshot.read(oid)).data], [2]);
    await snapshot.close();
  } finally {
    await Promise.all([a.close(), b.close()]);
    await server!.dropSchema(schema);
  }
});

pgTest('close while loads wait for a pool connection: every load settles (loaded or StorageClosedError), none hangs', async (t) => {
  const schema = server!.newSchemaName('sclose');
  t.teardown(() => server!.dropSchema(schema));
  const storage = await openClient(schema);
  const oid = await storage.newOid();
  await commit(storage, oid, 0n, 7);
  // Eight loads on a pool of two: six wait for a connection when close() ends the pool (they hung before).
  const loads = [...Array(8).keys()].map(() => storage.load(oid).then((r) => `loaded ${r.data[0]}`, (error: unknown) => (error as Error).name));
  await new Promise((resolve) => setImmediate(resolve));
  await storage.close();
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('hung'), 10_000).unref());
  const outcomes = await Promise.race([Promise.all(loads), timeout]);
  t.not(outcomes, 'hung', 'every load settled');
  for (const outcome of outcomes) t.true(outcome === 'loaded 7' || outcome === 'StorageClosedError', outcome);
});
