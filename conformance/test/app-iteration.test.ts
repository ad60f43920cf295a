/**
 * Issue 16: listing the current objects of a snapshot (`snapshot.objects()`) and the committed
 * transactions of a range (`db.transactions({ since, until })`), on every engine.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, openDatabase, ROOT_OID, TransactionClosedError, type Database, type Oid } from '@handlerton/framework';
import { startTestServerOrSkip } from '@handlerton/postgres/testing';

const enc = new TextEncoder();
const dec = new TextDecoder();

type Opener = (t: ExecutionContext) => Promise<string | object>;

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-iter-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function exercise(t: ExecutionContext, config: string | object): Promise<void> {
  const db: Database = await openDatabase(config as string);
  try {
    const t0 = db.lastTransaction();
    const [a, b, c] = await db.transaction(async (tx) => [await tx.create(enc.encode('a0')), await tx.create(enc.encode('b0')), await tx.create(enc.encode('c0'))], {
      meta: { user: 'alice', description: 'three' },
    });
    const blobOid = await db.transaction(async (tx) => {
      const blob = await tx.createBlob();
      const h = await blob.open('w');
      await h.write('blob bytes');
      await h.close();
      await tx.write(ROOT_OID, enc.encode('root'), { refs: [a!, b!, c!, blob.oid] });
      return blob.oid;
    });
    const before = await db.snapshot();
    await db.transaction(async (tx) => tx.write(a!, enc.encode('a1')));
    await db.transaction(async (tx) => tx.delete(b!), { meta: { description: 'delete b' } });
    const after = await db.snapshot();
    try {
      const now = await collect(after.objects());
      t.deepEqual(now.map((o) => o.oid), [ROOT_OID, a!, c!, blobOid]);
      t.deepEqual(now.map((o) => o.isBlob), [false, false, false, true]);
      t.deepEqual(now.filter((o) => !o.isBlob).map((o) => dec.decode(o.data)), ['root', 'a1', 'c0']);
      for (const o of now) t.is(o.tid, (await after.read(o.oid)).tid);
      t.deepEqual(now[0]!.refs, [a!, b!, c!, blobOid]);
      // The older snapshot still sees b and the old a.
      const then = await collect(before.objects());
      t.deepEqual(then.map((o) => [o.oid, o.isBlob ? 'blob' : dec.decode(o.data)]), [[ROOT_OID, 'root'], [a!, 'a0'], [b!, 'b0'], [c!, 'c0'], [blobOid, 'blob']]);
    } finally {
      await before.close();
      await after.close();
    }

    const all = await collect(db.transactions({ since: t0 + 1n }));
    t.is(all.length, 4);
    t.deepEqual(all.map((x) => x.description), ['three', '', '', 'delete b']);
    t.is(all[0]!.user, 'alice');
    t.deepEqual(all[0]!.records.map((r) => r.oid).sort(), [a!, b!, c!].sort());
    t.deepEqual(all[3]!.records, [{ oid: b!, record: null }]);
    t.is(dec.decode(all[2]!.records[0]!.record!.data), 'a1');
    t.true(all.every((x, i) => i === 0 || x.tid > all[i - 1]!.tid));
    t.is(all[1]!.time.getTime(), Number(all[1]!.tid >> 20n));
    // Inclusive bounds, by tid and by Date.
    const middle = await collect(db.transactions({ since: all[1]!.tid, until: all[2]!.tid }));
    t.deepEqual(middle.map((x) => x.tid), [all[1]!.tid, all[2]!.tid]);
    const byDate = await collect(db.transactions({ since: all[0]!.time, until: all[3]!.time }));
    t.deepEqual(byDate.map((x) => x.tid), all.map((x) => x.tid));
    t.deepEqual(await collect(db.transactions({ since: db.lastTransaction() + 1n })), []);
  } finally {
    await db.close();
  }
}

async function spillAndClose(t: ExecutionContext, config: string | object): Promise<void> {
  const db = await openDatabase({ ...(typeof config === 'string' ? { storage: config } : config), codec: 'json' });
  try {
    const oids: Oid[] = [];
    for (let round = 0; round < 3; round++) {
      await db.transaction(async (tx) => {
        for (let i = 0; i < 100; i++) oids.push(await tx.create({ round, i }));
      });
    }
    // Every object rewritten once more, some deleted: the replay sees several revisions per oid.
    await db.transaction(async (tx) => {
      for (const [n, oid] of oids.entries()) {
        if (n % 7 === 0) await tx.delete(oid);
        else await tx.write(oid, { n });
      }
    });
    const spillDir = await tempDir(t);
    const snapshot = await db.snapshot();
    try {
      const small = await collect(snapshot.objects({ spillThreshold: 16, tmpDir: spillDir }));
      const expected = oids.filter((_, n) => n % 7 !== 0);
      t.deepEqual(small.map((o) => o.oid), expected);
      t.deepEqual(small.map((o) => o.value), expected.map((oid) => ({ n: oids.indexOf(oid) })));
      t.deepEqual((await collect(snapshot.objects())).map((o) => o.oid), expected);
      t.deepEqual(await readdir(spillDir), [], 'the spilled runs are removed');
      // Abandoned part way: the files go too.
      for await (const object of snapshot.objects({ spillThreshold: 16, tmpDir: spillDir })) {
        t.is(object.oid, expected[0]);
        t.is((await readdir(spillDir)).length, 1, 'the runs spilled to a temporary directory');
        break;
      }
      t.deepEqual(await readdir(spillDir), []);
      // Closing the snapshot ends an iteration under way.
      const iterator = snapshot.objects()[Symbol.asyncIterator]();
      await iterator.next();
      await snapshot.close();
      await t.throwsAsync(iterator.next(), { instanceOf: TransactionClosedError });
    } finally {
      await snapshot.close();
    }
    const view = await db.snapshot();
    await t.throwsAsync(collect(view.objects({ spillThreshold: 1 })), { instanceOf: InvalidArgumentError, message: /options\.spillThreshold/ });
    await t.throwsAsync(collect(view.objects({ colour: 1 } as never)), { instanceOf: InvalidArgumentError, message: /options\.colour/ });
    await t.throwsAsync(collect(db.transactions({ since: 5 } as never)), { instanceOf: InvalidArgumentError, message: /options\.since/ });
    await t.throwsAsync(collect(db.transactions({ until: new Date(Number.NaN) })), { instanceOf: InvalidArgumentError, message: /options\.until/ });
    await view.close();
  } finally {
    await db.close();
  }
}

const OPENERS: Record<string, Opener> = {
  memory: async () => 'memory:',
  filestorage2: async (t) => `filestorage2:${join(await tempDir(t), 'data')}`,
  sqlite: async (t) => ({ storage: { engine: 'sqlite', path: join(await tempDir(t), 'app.db'), options: { synchronous: 'normal' } } }),
};

// ava registers tests synchronously: the server starts before the first registration.
const started = await startTestServerOrSkip();

for (const [name, opener] of Object.entries(OPENERS)) {
  test(`${name}: snapshot.objects() lists the current objects in oid order; db.transactions() walks a tid range`, async (t) => exercise(t, await opener(t)));
  test(`${name}: objects() with spilled runs gives the same answer and removes its files; closing the snapshot ends it; bad options are typed errors`, async (t) =>
    spillAndClose(t, await opener(t)));
}

if ('server' in started) {
  const { server } = started;
  test.after.always('stop the PostgreSQL test server', async () => {
    await server.stop();
  });
  const pg = (t: ExecutionContext): object => {
    const schema = server.newSchemaName('iter');
    t.teardown(() => server.dropSchema(schema));
    return { storage: { engine: 'postgres', path: server.url, options: { schema, poolSize: 2 } } };
  };
  test('postgres: snapshot.objects() lists the current objects in oid order; db.transactions() walks a tid range', async (t) => exercise(t, pg(t)));
  test('postgres: objects() with spilled runs gives the same answer and removes its files; closing the snapshot ends it; bad options are typed errors', async (t) =>
    spillAndClose(t, pg(t)));
} else {
  test.skip(`postgres: ${started.skip}`, (t) => t.pass());
}
