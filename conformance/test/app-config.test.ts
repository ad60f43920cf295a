/** Config mistakes of issue 16: locations the framework derives, and FileStorage2 refusing a directory that is not its database. */
import test from 'ava';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InvalidConfigError, openDatabase, resolveConfig, ROOT_OID } from '@handlerton/framework';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-appcfg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('FileStorage2 storage with memory blobs opens (the framework no longer invents a blobs location for memory)', async (t) => {
  const dir = await tempDir(t);
  const config = { storage: `filestorage2:${join(dir, 'd')}`, blobs: 'memory:' };
  t.true(resolveConfig(config).blobs.locationDerived);
  const db = await openDatabase(config);
  try {
    t.deepEqual(db.engines, { storage: 'filestorage2', blobs: 'memory' });
    await db.transaction(async (tx) => tx.write(ROOT_OID, new Uint8Array([1])));
    const snap = await db.snapshot();
    t.deepEqual([...(await snap.read(ROOT_OID)).data], [1]);
    await snap.close();
  } finally {
    await db.close();
  }
  // No file was created for the memory blobs beside the storage.
  t.deepEqual(await readdir(dir), ['d']);
});

test('the command line inspects a FileStorage2 storage with memory blobs too (no invented blobs location)', async (t) => {
  const dir = await tempDir(t);
  const config = JSON.stringify({ storage: `filestorage2:${join(dir, 'd')}`, blobs: 'memory:' });
  const db = await openDatabase(JSON.parse(config) as { storage: string; blobs: string });
  await db.transaction(async (tx) => tx.write(ROOT_OID, new Uint8Array([1])));
  await db.close();
  const bin = fileURLToPath(new URL('../../../framework/bin/handlerton.js', import.meta.url));
  const info = spawnSync(process.execPath, [bin, '--json', 'info', config], { encoding: 'utf8', timeout: 60_000 });
  t.is(info.status, 0, info.stderr);
  t.regex(info.stdout, /"blobs": ?"memory"/);
});

test('a location given explicitly to the memory engine is still refused, naming the option', async (t) => {
  const dir = await tempDir(t);
  const error = await t.throwsAsync(openDatabase({ storage: `filestorage2:${join(dir, 'd')}`, blobs: 'memory:./x' }), { instanceOf: InvalidConfigError });
  t.is(error?.option, 'blobs.location');
});

test('a derived location is still used by an engine that keeps files (sqlite blobs beside FileStorage2)', async (t) => {
  const dir = await tempDir(t);
  const resolved = resolveConfig({ storage: `filestorage2:${join(dir, 'd')}`, blobs: 'sqlite' });
  t.is(resolved.blobs.location, `${join(dir, 'd')}.sqlite`);
  t.true(resolved.blobs.locationDerived);
  t.false(resolveConfig({ storage: 'filestorage2:/a', blobs: 'sqlite:/b' }).blobs.locationDerived);
  t.false(resolveConfig('memory:').blobs.locationDerived);
});

test('FileStorage2 refuses a non-empty directory that is not a FileStorage2 database, and creates nothing in it', async (t) => {
  const dir = await tempDir(t);
  const elsewhere = await tempDir(t);
  await writeFile(join(dir, 'notes.txt'), 'mine');
  await mkdir(join(dir, 'src'));
  for (const config of [`filestorage2:${dir}`, { storage: `sqlite:${join(elsewhere, 'x.db')}`, blobs: `filestorage2:${dir}` }]) {
    const error = await t.throwsAsync(openDatabase(config), { instanceOf: InvalidConfigError });
    t.is(error?.code, 'HANDLERTON_INVALID_CONFIG');
    t.is(error?.option, typeof config === 'string' ? 'storage.location' : 'blobs.location');
    t.regex(error?.message ?? '', /is not a FileStorage2 database and not empty \(it holds notes\.txt, src\)/);
  }
  // Nothing was created in the directory.
  t.deepEqual((await readdir(dir)).sort(), ['notes.txt', 'src']);
  // A read-only open is refused the same way.
  await t.throwsAsync(openDatabase({ storage: { engine: 'filestorage2', path: dir, options: { readOnly: true } } }), { instanceOf: InvalidConfigError });
  // A file is not a directory.
  const file = await t.throwsAsync(openDatabase(`filestorage2:${join(dir, 'notes.txt')}`), { instanceOf: InvalidConfigError });
  t.regex(file?.message ?? '', /is a file, not a FileStorage2 directory/);
});

test('FileStorage2 still opens a missing directory, an empty one, and an existing database (also with a file of the user beside it)', async (t) => {
  const dir = await tempDir(t);
  const empty = join(dir, 'empty');
  await mkdir(empty);
  for (const location of [join(dir, 'missing', 'deeper'), empty]) {
    const db = await openDatabase(`filestorage2:${location}`);
    await db.transaction(async (tx) => tx.write(ROOT_OID, new Uint8Array([7])));
    await db.close();
  }
  await writeFile(join(empty, 'README.txt'), 'our database');
  const db = await openDatabase(`filestorage2:${empty}`);
  const snapshot = await db.snapshot();
  t.deepEqual([...(await snapshot.read(ROOT_OID)).data], [7]);
  await snapshot.close();
  await db.close();
});
