/**
 * Issue 16: concurrent updaters of one record with `retries` (backoff with full jitter between
 * attempts), the attempts count on the final error, and tids in hex in conflict messages.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConflictError, InvalidArgumentError, isHandlertonError, openDatabase, ROOT_OID, toHex, type Database } from '@handlerton/framework';

const ENGINES = ['memory', 'filestorage2', 'sqlite'] as const;
const WORKERS = 8;
const INCREMENTS = 10;

async function open(t: { teardown(fn: () => Promise<void>): void }, engine: (typeof ENGINES)[number]): Promise<Database> {
  if (engine === 'memory') return openDatabase('memory:');
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-retries-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return openDatabase(engine === 'sqlite' ? `sqlite:${join(dir, 'app.db')}` : `filestorage2:${join(dir, 'data')}`);
}

const encode = (n: number): Uint8Array => new TextEncoder().encode(String(n));
const decode = (data: Uint8Array): number => Number(new TextDecoder().decode(data));

for (const engine of ENGINES) {
  test(`${engine}: ${WORKERS} concurrent updaters x ${INCREMENTS} increments of one record with retries 20 all commit`, async (t) => {
    const db = await open(t, engine);
    try {
      await db.transaction(async (tx) => tx.write(ROOT_OID, encode(0)));
      let committed = 0;
      const failures: string[] = [];
      await Promise.all(
        Array.from({ length: WORKERS }, async () => {
          for (let i = 0; i < INCREMENTS; i++) {
            try {
              await db.transaction(async (tx) => tx.write(ROOT_OID, encode(decode((await tx.read(ROOT_OID)).data) + 1)), { retries: 20 });
              committed++;
            } catch (error) {
              failures.push(String(error));
            }
          }
        }),
      );
      const snapshot = await db.snapshot();
      const final = decode((await snapshot.read(ROOT_OID)).data);
      await snapshot.close();
      t.deepEqual(failures, [], `${failures.length} of ${WORKERS * INCREMENTS} failed`);
      t.is(committed, WORKERS * INCREMENTS);
      t.is(final, WORKERS * INCREMENTS);
    } finally {
      await db.close();
    }
  });
}

test('the final error of a run that gives up keeps its class and code and says how many attempts were made', async (t) => {
  const db = await openDatabase('memory:');
  try {
    await db.transaction(async (tx) => tx.write(ROOT_OID, encode(0)));
    let runs = 0;
    // Every attempt loses: another transaction commits the record between this one's read and its commit.
    const error = await t.throwsAsync(
      db.transaction(
        async (tx) => {
          runs++;
          const value = decode((await tx.read(ROOT_OID)).data);
          await db.transaction(async (other) => other.write(ROOT_OID, encode(decode((await other.read(ROOT_OID)).data) + 100)));
          await tx.write(ROOT_OID, encode(value + 1));
        },
        { retries: 3, backoff: { initialMs: 1, maxMs: 4 } },
      ),
      { instanceOf: ConflictError },
    );
    t.is(runs, 4);
    t.is(error?.code, 'HANDLERTON_CONFLICT');
    t.is(error?.attempts, 4);
    t.regex(error?.message ?? '', /gave up after 4 attempts: retries 3/);
    // Without retries: one attempt.
    const once = await t.throwsAsync(
      db.transaction(async (tx) => {
        await tx.read(ROOT_OID);
        await db.transaction(async (other) => other.write(ROOT_OID, encode(1)));
        await tx.write(ROOT_OID, encode(2));
      }),
      { instanceOf: ConflictError },
    );
    t.is(once?.attempts, 1);
    t.regex(once?.message ?? '', /gave up after 1 attempt: retries 0/);
  } finally {
    await db.close();
  }
});

test('conflict messages give tids and oids in hex, as everywhere else', async (t) => {
  for (const engine of ENGINES) {
    const db = await open(t, engine);
    try {
      const oid = await db.transaction(async (tx) => tx.create(encode(0)));
      const tx = db.begin();
      const expected = (await tx.read(oid)).tid;
      const winner = await db.transaction(async (other) => {
        await other.write(oid, encode(1));
      }).then(() => db.lastTransaction());
      await tx.write(oid, encode(2));
      const error = await t.throwsAsync(tx.commit(), { instanceOf: ConflictError });
      t.is(error?.committedSerial, winner, engine);
      t.true(error?.message.startsWith(`conflict on oid ${toHex(oid)}: committed serial ${toHex(winner)}, expected ${toHex(expected)}`), `${engine}: ${error?.message}`);
      t.notRegex(error?.message ?? '', new RegExp(`\\b${winner}\\b`), `${engine}: no decimal tid`);
      // A read of a missing object names the view's tid in hex too.
      const snapshot = await db.snapshot();
      const missing = await t.throwsAsync(snapshot.read(oid + 1000n));
      t.true(isHandlertonError(missing, 'HANDLERTON_POS_KEY'));
      t.true(missing?.message.includes(`as of tid ${toHex(snapshot.tid)}`), missing?.message);
      await snapshot.close();
    } finally {
      await db.close();
    }
  }
});

test('a ReadConflictError that persists through the retries carries attempts too', async (t) => {
  const db = await openDatabase('memory:');
  try {
    await db.transaction(async (tx) => tx.write(ROOT_OID, encode(0)));
    let runs = 0;
    const error = await t.throwsAsync(
      db.transaction(
        async (tx) => {
          runs++;
          // Another commit, then a pack past this view: a read that finds nothing cannot say "does not exist".
          await db.transaction(async (other) => other.write(ROOT_OID, encode(runs)));
          await db.pack();
          await tx.read(ROOT_OID + 12345n);
        },
        { retries: 2, backoff: { initialMs: 1 } },
      ),
    );
    t.true(isHandlertonError(error, 'HANDLERTON_READ_CONFLICT'), String(error));
    t.is(runs, 3);
    t.is((error as { attempts?: number }).attempts, 3);
    t.regex(error?.message ?? '', /gave up after 3 attempts: retries 2/);
  } finally {
    await db.close();
  }
});

test('blob messages name the blob object in hex too', async (t) => {
  const db = await openDatabase('memory:');
  try {
    await db.transaction(async (tx) => {
      const blob = await tx.createBlob();
      await blob.open('w');
      const locked = await t.throwsAsync(blob.open('r'));
      t.true(isHandlertonError(locked, 'HANDLERTON_BLOB_LOCKED'));
      t.is(locked?.message, `blob ${toHex(blob.oid)} is already opened for writing`);
      const oid = await tx.create(encode(1));
      const notBlob = await t.throwsAsync(tx.write(blob.oid, encode(2)));
      t.is(notBlob?.message, `oid ${toHex(blob.oid)} is a blob object; write through blob(oid).open()`);
      t.true(oid > blob.oid);
    });
  } finally {
    await db.close();
  }
});

test('bad backoff options raise InvalidArgumentError naming the option, before anything runs', async (t) => {
  const db = await openDatabase('memory:');
  try {
    const cases: [unknown, string][] = [
      [{ initialMs: -1 }, 'options.backoff.initialMs'],
      [{ maxMs: Number.NaN }, 'options.backoff.maxMs'],
      [{ factor: 0.5 }, 'options.backoff.factor'],
      [{ initialMs: 100, maxMs: 10 }, 'options.backoff.maxMs'],
      [{ jitter: true }, 'options.backoff.jitter'],
      ['fast', 'options.backoff'],
    ];
    for (const [backoff, option] of cases) {
      let ran = false;
      const error = await t.throwsAsync(
        db.transaction(async () => {
          ran = true;
        }, { retries: 2, backoff } as never),
        { instanceOf: InvalidArgumentError },
      );
      t.true(error?.message.startsWith(option), `${JSON.stringify(backoff)}: ${error?.message}`);
      t.false(ran);
    }
  } finally {
    await db.close();
  }
});
