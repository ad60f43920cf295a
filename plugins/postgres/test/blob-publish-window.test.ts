/**
 * Across clients, a blob revision is readable as soon as the storage transaction that references
 * it committed: between a client's storage COMMIT and its blob commit (or forever, when it is
 * killed in between) another client must not get POSKeyError (which the Database reports as
 * CorruptionError). Found by the four-client kill -9 torture (conformance/test/multi-torture.test.ts).
 */
import * as fs from 'node:fs';
import test from 'ava';
import { POSKeyError, silentLogger, systemClock, type BlobHandlerton, type Storage } from '@handlerton/framework';
import { plugin } from '../src/index.js';
import { startTestServerOrSkip } from '../src/testing/index.js';
import { commitStorageOnly } from './two-phase.js';

const started = await startTestServerOrSkip();
const server = 'server' in started ? started.server : undefined;
test.after.always('stop the PostgreSQL test server', async () => {
  await server?.stop();
});
const pgTest = server === undefined ? test.skip : test;
const context = { clock: systemClock, logger: silentLogger, fs };

async function openPair(schema: string): Promise<{ storage: Storage; blobs: BlobHandlerton }> {
  const options = plugin.parseOptions({ location: server!.url, options: { schema, poolSize: 2 }, configPath: 'storage' });
  return { storage: await plugin.createStorage!(options, context), blobs: await plugin.createBlobHandlerton!(options, context) };
}

pgTest('another client reads a blob revision whose storage transaction committed before its blob commit ran; an aborted one stays invisible', async (t) => {
  const schema = server!.newSchemaName('window');
  const writer = await openPair(schema);
  const reader = await openPair(schema);
  try {
    const committed = await commitStorageOnly(writer, true);
    const revision = await reader.blobs.openRevision(committed.blobId, committed.revision);
    const bytes = new Uint8Array(8);
    t.is(await revision.read(bytes, 0), 3);
    t.deepEqual([...bytes.subarray(0, 3)], [1, 2, 3]);
    await revision.close();
    t.is(await reader.blobs.latestRevision(committed.blobId), committed.revision);
    const aborted = await commitStorageOnly(writer, false);
    await t.throwsAsync(reader.blobs.openRevision(aborted.blobId, aborted.revision), { instanceOf: POSKeyError });
    t.is(await reader.blobs.latestRevision(aborted.blobId), null);
  } finally {
    await Promise.all([writer.storage.close(), writer.blobs.close(), reader.storage.close(), reader.blobs.close()]);
    await server!.dropSchema(schema);
  }
});
