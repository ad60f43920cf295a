/**
 * A committed record that references a blob revision the blob file does not have is damage (the
 * blob file lost committed rows, e.g. WAL frames SQLite dropped): reading it through the Database
 * raises CorruptionError naming the blob file, not POSKeyError. Revisions gone with their records
 * (pack) and revisions asked for directly stay POSKeyError.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { CorruptionError, openDatabase, type Database as HandlertonDatabase, type Oid } from '@handlerton/framework';
import { roleFile } from '../src/connection.js';
import { tempDir } from './helpers.js';

async function writeBlob(db: HandlertonDatabase, oid: Oid | undefined, content: string): Promise<Oid> {
  return db.transaction(async (tx) => {
    const blob = oid === undefined ? await tx.createBlob() : await tx.blob(oid);
    const writer = await blob.open('w');
    await writer.write(content);
    await writer.close();
    return blob.oid;
  });
}

async function readBlob(db: HandlertonDatabase, oid: Oid): Promise<string> {
  const snapshot = await db.snapshot();
  try {
    const reader = await (await snapshot.blob(oid)).open('r');
    const bytes = await reader.read(1024);
    await reader.close();
    return new TextDecoder().decode(bytes);
  } finally {
    await snapshot.close();
  }
}

test('a blob revision that a committed record references but the blob file lost raises CorruptionError naming the blob file', async (t) => {
  const location = join(await tempDir(t), 'app.db');
  const db = await openDatabase(`sqlite:${location}`);
  const lost = await writeBlob(db, undefined, 'the blob file loses this revision');
  const kept = await writeBlob(db, undefined, 'this one stays');
  await db.close();
  const blobFile = roleFile(location, 'blobs');
  // What SQLite leaves when the WAL frames of the revision's commit are dropped: no committed row.
  const raw = new Database(blobFile);
  raw.prepare("delete from blob_revision where blob_id = (select min(blob_id) from blob_revision where state = 'committed')").run();
  raw.close();
  const reopened = await openDatabase(`sqlite:${location}`);
  t.teardown(() => reopened.close());
  const error = await t.throwsAsync(readBlob(reopened, lost));
  t.true(error instanceof CorruptionError, String(error));
  t.is((error as CorruptionError).file, blobFile);
  t.is(await readBlob(reopened, kept), 'this one stays');
  const appending = reopened.transaction(async (tx) => (await tx.blob(lost)).open('a'));
  t.true((await t.throwsAsync(appending)) instanceof CorruptionError, 'a write open from the lost revision too');
});

test('a revision gone with its record (pack) stays POSKeyError for a reader that saw the old record', async (t) => {
  const location = join(await tempDir(t), 'app.db');
  const db = await openDatabase(`sqlite:${location}`);
  t.teardown(() => db.close());
  const oid = await writeBlob(db, undefined, 'first');
  const old = await db.snapshot();
  const oldBlob = await old.blob(oid);
  await writeBlob(db, oid, 'second');
  await db.pack();
  await t.throwsAsync(oldBlob.open('r'), { code: 'HANDLERTON_POS_KEY' });
  await old.close();
  t.is(await readBlob(db, oid), 'second');
});

test('records that lost committed transactions (an older records file beside a newer blob file) are CorruptionError at open naming the records file', async (t) => {
  const dir = await tempDir(t);
  const location = join(dir, 'app.db');
  const db = await openDatabase(`sqlite:${location}`);
  const oid = await writeBlob(db, undefined, 'first');
  await db.close();
  const records = roleFile(location, 'records');
  // What a truncated records WAL leaves: the records as of an earlier commit, the blob file complete.
  copyFileSync(records, join(dir, 'records-before'));
  const again = await openDatabase(`sqlite:${location}`);
  await writeBlob(again, oid, 'second');
  await writeBlob(again, undefined, 'third');
  await again.close();
  copyFileSync(join(dir, 'records-before'), records);
  const error = await t.throwsAsync(openDatabase(`sqlite:${location}`));
  t.true(error instanceof CorruptionError, String(error));
  t.is((error as CorruptionError).file, records);
  // The engines were closed: the files can be opened again (and fail the same way).
  await t.throwsAsync(openDatabase(`sqlite:${location}`), { instanceOf: CorruptionError });
});
