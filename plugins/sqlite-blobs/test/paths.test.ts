/** Database paths SQLite cannot use as given are refused with typed errors before any file is touched. */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { InvalidConfigError, isHandlertonError, openDatabase, silentLogger, systemClock } from '@handlerton/framework';
import * as nodeFs from 'node:fs';
import { plugin, SqliteBlobs, SqliteStorage } from '../src/index.js';
import { optionsIn, tempDir } from './helpers.js';

const context = { clock: systemClock, logger: silentLogger, fs: nodeFs };

test('a path with a NUL byte is InvalidConfigError naming path, and no stray file appears', async (t) => {
  const dir = await tempDir(t);
  const location = join(dir, 'db\0.sqlite');
  // Before the fix SQLite cut the path at the NUL, created "db" and then reported it locked.
  await t.throwsAsync(SqliteStorage.open(optionsIn(dir, { location })), { instanceOf: InvalidConfigError, message: /path/ });
  await t.throwsAsync(SqliteBlobs.open(optionsIn(dir, { location })), { instanceOf: InvalidConfigError, message: /path/ });
  const parsed = t.throws(() => plugin.parseOptions({ location, options: {}, configPath: 'storage' }), { instanceOf: InvalidConfigError });
  t.is((parsed as InvalidConfigError).option, 'storage.path');
  await t.throwsAsync(openDatabase(`sqlite:${location}`), { instanceOf: InvalidConfigError, message: /path/ });
  t.deepEqual(readdirSync(dir), []);
});

test('a path below a regular file is a typed error naming the path, not a raw EEXIST or ENOTDIR', async (t) => {
  const dir = await tempDir(t);
  const plain = join(dir, 'plain');
  writeFileSync(plain, 'not a directory');
  for (const location of [join(plain, 'db.sqlite'), join(plain, 'sub', 'db.sqlite')]) {
    for (const open of [
      () => SqliteStorage.open(optionsIn(dir, { location })),
      () => SqliteBlobs.open(optionsIn(dir, { location })),
      async () => {
        if (plugin.createStorage === undefined) throw new Error('the plugin has no createStorage');
        return plugin.createStorage(plugin.parseOptions({ location, options: {}, configPath: 'storage' }), context);
      },
      () => openDatabase(`sqlite:${location}`),
    ]) {
      const error = await t.throwsAsync(open());
      t.true(isHandlertonError(error), String(error));
      t.true(error instanceof InvalidConfigError, String(error));
      t.true(error!.message.includes(location), error!.message);
    }
  }
  t.deepEqual(readdirSync(dir), ['plain']);
});
