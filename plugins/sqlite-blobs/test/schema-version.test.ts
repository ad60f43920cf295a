/**
 * A file migrated by a newer version of the engine is refused with FormatVersionError before
 * anything is written (an older version used to report it as CorruptionError "corrupted migrations").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { isHandlertonError, openDatabase } from '@handlerton/framework';
import { tempDir } from './helpers.js';

test('a records or blob file carrying a schema step this version does not know: FormatVersionError naming it, file unchanged', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'db.sqlite');
  const db = await openDatabase({ engine: 'sqlite', path, locatorSecret: 'a secret of 16+ characters' });
  await db.transaction(async (tx) => tx.write(0n, new TextEncoder().encode('root')));
  await db.close();
  for (const file of [path, `${path}-blobs`]) {
    const raw = new Database(file);
    raw.prepare("insert into kysely_migration (name, timestamp) values ('9999_from_the_future', '2030-01-01T00:00:00.000Z')").run();
    raw.close();
    const before = readFileSync(file);
    const err = await t.throwsAsync(openDatabase({ engine: 'sqlite', path, locatorSecret: 'a secret of 16+ characters' }));
    t.true(isHandlertonError(err, 'HANDLERTON_FORMAT_VERSION'), String(err));
    t.true(err!.message.includes('9999_from_the_future') && err!.message.includes(file), err!.message);
    t.true(readFileSync(file).equals(before), 'nothing was written');
    const fix = new Database(file);
    fix.prepare("delete from kysely_migration where name = '9999_from_the_future'").run();
    fix.close();
  }
  const again = await openDatabase({ engine: 'sqlite', path, locatorSecret: 'a secret of 16+ characters' });
  t.truthy(again.lastTransaction());
  await again.close();
});
