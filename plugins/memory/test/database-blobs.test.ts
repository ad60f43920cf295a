import test from 'ava';
import { BlobLockedError, HandleClosedError, ReadOnlyError, TransactionClosedError, type Oid } from '@handlerton/framework';
import { dec, enc, memoryDb, readAll } from './database-helpers.js';

async function withBlob(content: string) {
  const db = await memoryDb();
  const oid = await db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    const w = await blob.open('w');
    await w.write(content);
    await tx.write(0n, enc('root'), { refs: [blob.oid] });
    return blob.oid;
  });
  return { db, oid };
}

test('open("r") on a freshly loaded blob reads the committed data', async (t) => {
  const { db, oid } = await withBlob('committed');
  await db.transaction(async (tx) => {
    const r = await (await tx.blob(oid)).open('r');
    t.is(dec(await r.read()), 'committed');
  });
  await db.close();
});

test('a new blob reads as empty until written', async (t) => {
  const db = await memoryDb();
  await db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    const r = await blob.open('r');
    t.is(r.size(), 0);
    t.is((await r.read()).length, 0);
  });
  await db.close();
});

test('the first open("w") starts empty uncommitted data; "a" and "r+" start from committed data', async (t) => {
  const { db, oid } = await withBlob('abcdef');
  const discarded = db.begin();
  const w = await (await discarded.blob(oid)).open('w');
  t.is(w.size(), 0);
  await w.close();
  t.is(await readAll(await (await discarded.blob(oid)).open('r')), '');
  await discarded.abort();
  await db.transaction(async (tx) => {
    const a = await (await tx.blob(oid)).open('a');
    t.is(a.size(), 6);
    await a.write('gh');
    await a.close();
  });
  await db.transaction(async (tx) => {
    const rw = await (await tx.blob(oid)).open('r+');
    t.is(rw.tell(), 0);
    t.is(dec(await rw.read(3)), 'abc');
    await rw.write('XY');
    await rw.close();
  });
  const snap = await db.snapshot();
  t.is(await readAll(await (await snap.blob(oid)).open('r')), 'abcXYfgh');
  await snap.close();
  await db.close();
});

test('once uncommitted data exists every later open in the transaction sees it', async (t) => {
  const { db, oid } = await withBlob('old');
  await db.transaction(async (tx) => {
    const blob = await tx.blob(oid);
    const w = await blob.open('w');
    await w.write('new');
    await w.close();
    const r = await blob.open('r');
    t.is(dec(await r.read()), 'new');
    await r.close();
    const a = await blob.open('a');
    t.is(a.size(), 3);
    await a.write('er');
    await a.close();
    t.is(dec(await (await blob.open('r')).read()), 'newer');
  });
  await db.close();
});

test('N readers and no writer, or one writer and no readers (BlobLockedError)', async (t) => {
  const { db, oid } = await withBlob('x');
  await db.transaction(async (tx) => {
    const blob = await tx.blob(oid);
    const r1 = await blob.open('r');
    const r2 = await blob.open('r');
    for (const mode of ['w', 'a', 'r+'] as const) await t.throwsAsync(blob.open(mode), { instanceOf: BlobLockedError, message: /reading/ });
    await r1.close();
    await r2.close();
    const w = await blob.open('w');
    await t.throwsAsync(blob.open('r'), { instanceOf: BlobLockedError, message: /writing/ });
    await t.throwsAsync(blob.open('a'), { instanceOf: BlobLockedError, message: /writing/ });
    await w.close();
    await (await blob.open('r')).close();
  });
  await db.close();
});

test('commit and abort close writable handles; later use raises TransactionClosedError', async (t) => {
  const { db, oid } = await withBlob('x');
  let writer;
  await db.transaction(async (tx) => {
    writer = await (await tx.blob(oid)).open('a');
    await writer.write('y');
  });
  t.false(writer!.open);
  await t.throwsAsync(writer!.write('z'), { instanceOf: TransactionClosedError });
  const tx = db.begin();
  const w2 = await (await tx.blob(oid)).open('w');
  await tx.abort();
  await t.throwsAsync(w2.write('z'), { instanceOf: TransactionClosedError });
  t.throws(() => w2.tell(), { instanceOf: TransactionClosedError });
  const snap = await db.snapshot();
  t.is(await readAll(await (await snap.blob(oid)).open('r')), 'xy');
  await snap.close();
  await db.close();
});

test('changes never bleed into the next transaction', async (t) => {
  const { db, oid } = await withBlob('base');
  const tx = db.begin();
  const w = await (await tx.blob(oid)).open('w');
  await w.write('aborted');
  await tx.abort();
  await db.transaction(async (tx2) => {
    t.is(dec(await (await (await tx2.blob(oid)).open('r')).read()), 'base');
  });
  await db.close();
});

test('uncommitted blob data is invisible to other transactions and snapshots', async (t) => {
  const { db, oid } = await withBlob('committed');
  const writerTx = db.begin();
  const w = await (await writerTx.blob(oid)).open('w');
  await w.write('private');
  const other = db.begin();
  t.is(dec(await (await (await other.blob(oid)).open('r')).read()), 'committed');
  const snap = await db.snapshot();
  t.is(dec(await (await (await snap.blob(oid)).open('r')).read()), 'committed');
  await writerTx.commit();
  // Snapshot isolation: views opened before the commit keep their revision.
  t.is(dec(await (await (await other.blob(oid)).open('r')).read()), 'committed');
  await other.abort();
  await snap.close();
  const after = await db.snapshot();
  t.is(dec(await (await (await after.blob(oid)).open('r')).read()), 'private');
  await after.close();
  await db.close();
});

test('a reader keeps its revision after a newer commit, a delete and a pack', async (t) => {
  const { db, oid } = await withBlob('revision-1');
  const snap = await db.snapshot();
  const reader = await (await snap.blob(oid)).open('r');
  await db.transaction(async (tx) => {
    const w = await (await tx.blob(oid)).open('w');
    await w.write('revision-2');
  });
  await db.transaction(async (tx) => {
    await tx.write(0n, enc('root without refs'));
    await tx.delete(oid);
  });
  await db.pack();
  t.is(dec(await reader.read()), 'revision-1');
  const locator = reader.locator;
  await reader.close();
  await snap.close();
  await db.pack();
  // The revision is reclaimed once the reader closed and the pack dropped its record.
  await t.throwsAsync(db.openLocator(locator), { code: 'HANDLERTON_POS_KEY' });
  await db.close();
});

test('two transactions writing the same blob: the first commit wins, the second gets ConflictError', async (t) => {
  const { db, oid } = await withBlob('0');
  const a = db.begin();
  const b = db.begin();
  await (await (await a.blob(oid)).open('a')).write('a');
  await (await (await b.blob(oid)).open('a')).write('b');
  await a.commit();
  await t.throwsAsync(b.commit(), { code: 'HANDLERTON_CONFLICT' });
  const snap = await db.snapshot();
  t.is(dec(await (await (await snap.blob(oid)).open('r')).read()), '0a');
  await snap.close();
  await db.close();
});

test('snapshots refuse writable opens with ReadOnlyError; closed handles raise HandleClosedError', async (t) => {
  const { db, oid } = await withBlob('x');
  const snap = await db.snapshot();
  const blob = await snap.blob(oid);
  await t.throwsAsync(blob.open('w'), { instanceOf: ReadOnlyError });
  const r = await blob.open('r');
  await r.close();
  await r.close();
  await t.throwsAsync(r.read(), { instanceOf: HandleClosedError });
  await t.throwsAsync(blob.open('x' as 'r'), { code: 'HANDLERTON_INVALID_ARGUMENT' });
  await t.throwsAsync((await blob.open('r')).write('no'), { instanceOf: ReadOnlyError });
  await snap.close();
  await db.close();
});

test('seek, tell, read past the end, seek beyond the end and write zero-fills, truncate', async (t) => {
  const db = await memoryDb();
  await db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    const h = await blob.open('r+');
    await h.write('hello');
    t.is(h.tell(), 5);
    t.is(h.seek(0), 0);
    t.is(dec(await h.read(100)), 'hello');
    t.is((await h.read(10)).length, 0);
    t.is(h.seek(2, 'end'), 7);
    await h.write('!');
    t.is(h.size(), 8);
    h.seek(0);
    t.deepEqual([...(await h.read())], [...enc('hello'), 0, 0, ...enc('!')]);
    t.is(h.seek(-3, 'current'), 5);
    await h.truncate();
    t.is(h.size(), 5);
    await h.truncate(2);
    h.seek(0);
    t.is(dec(await h.read()), 'he');
    t.throws(() => h.seek(-1), { code: 'HANDLERTON_INVALID_ARGUMENT' });
    t.throws(() => h.seek(0, 'middle' as 'start'), { code: 'HANDLERTON_INVALID_ARGUMENT' });
  });
  await db.close();
});

test('streams move a multi-megabyte blob in bounded chunks and honour start/end', async (t) => {
  const db = await memoryDb();
  const size = 5 * 1024 * 1024 + 123;
  const oid: Oid = await db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    const w = await blob.open('w');
    const ws = w.createWriteStream();
    const chunk = { length: 64 * 1024 };
    for (let written = 0; written < size; written += chunk.length) {
      const part = Buffer.alloc(Math.min(chunk.length, size - written), written / chunk.length);
      if (!ws.write(part)) await new Promise((resolve) => ws.once('drain', resolve));
    }
    await new Promise<void>((resolve, reject) => ws.end((error?: Error | null) => (error ? reject(error) : resolve())));
    return blob.oid;
  });
  const snap = await db.snapshot();
  const r = await (await snap.blob(oid)).open('r');
  let total = 0;
  let biggest = 0;
  for await (const chunk of r.createReadStream()) {
    total += (chunk as Buffer).length;
    biggest = Math.max(biggest, (chunk as Buffer).length);
  }
  t.is(total, size);
  t.true(biggest <= 1024 * 1024);
  const part: Buffer[] = [];
  for await (const chunk of r.createReadStream({ start: 65536 * 3 + 10, end: 65536 * 3 + 20 })) part.push(chunk as Buffer);
  t.deepEqual([...Buffer.concat(part)], new Array(10).fill(3));
  await snap.close();
  await db.close();
});

test('a reader of committed data survives its transaction; readers of uncommitted data do not', async (t) => {
  const { db, oid } = await withBlob('committed');
  const tx = db.begin();
  const committedReader = await (await tx.blob(oid)).open('r');
  await tx.commit();
  t.true(committedReader.open);
  t.is(dec(await committedReader.read()), 'committed');
  await committedReader.close();
  const tx2 = db.begin();
  const blob = await tx2.blob(oid);
  await (await blob.open('w')).close();
  const draftReader = await blob.open('r');
  await tx2.abort();
  t.false(draftReader.open);
  await t.throwsAsync(draftReader.read(), { instanceOf: TransactionClosedError });
  await db.close();
});

test('a reader that sees a committed record waits for its blob revision to be published', async (t) => {
  const { createDatabase } = await import('@handlerton/framework');
  const { MemoryStorage, MemoryBlobHandlerton } = await import('../src/index.js');
  const blobs = new MemoryBlobHandlerton();
  const innerCommit = blobs.commit.bind(blobs);
  let delayCommit = false;
  // The blob handlerton publishes 30 ms after the storage did: the window a reader must not fall into.
  blobs.commit = async (txn) => {
    if (delayCommit) await new Promise((resolve) => setTimeout(resolve, 30));
    return innerCommit(txn);
  };
  const db = await createDatabase({ storage: new MemoryStorage(), blobs });
  const oid = await db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    await (await blob.open('w')).write('v1');
    return blob.oid;
  });
  delayCommit = true;
  const before = db.lastTransaction();
  const committing = db.transaction(async (tx) => void (await (await (await tx.blob(oid)).open('w')).write('v2')));
  while (db.lastTransaction() === before) await new Promise((resolve) => setImmediate(resolve));
  const snap = await db.snapshot();
  const reader = await (await snap.blob(oid)).open('r');
  t.is(dec(await reader.read()), 'v2');
  await snap.close();
  await committing;
  await db.close();
});
