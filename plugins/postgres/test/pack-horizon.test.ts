/**
 * A client whose snapshot is older than another client's pack must read ReadConflictError, never
 * "does not exist", for an object the pack removed the snapshot's revision of. The client learned the
 * pack horizon only at its next sync, so an old snapshot read POSKeyError (seen as a flaky
 * multi-client.pack-while-clients-commit: "oid 1 does not exist as of tid …").
 */
import test from 'ava';
import { isHandlertonError, openDatabase } from '@handlerton/framework';
import { startTestServerOrSkip } from '../src/testing/index.js';

const started = await startTestServerOrSkip();
const server = 'server' in started ? started.server : undefined;
test.after.always('stop the PostgreSQL test server', async () => {
  await server?.stop();
});
const pgTest = server === undefined ? test.skip : test;
const text = (value: string): Uint8Array => new TextEncoder().encode(value);

pgTest("a snapshot older than another client's pack reads ReadConflictError, not 'does not exist'", async (t) => {
  const schema = server!.newSchemaName('horizon');
  const config = { engine: 'postgres', path: server!.url, options: { schema, poolSize: 2 }, recordCacheBytes: 0 };
  const reader = await openDatabase(config);
  const packer = await openDatabase(config);
  try {
    const oid = await reader.transaction(async (tx) => tx.create(text('v1')));
    const old = await reader.snapshot();
    await packer.transaction(async (tx) => tx.write(oid, text('v2')));
    await packer.transaction(async (tx) => tx.write(oid, text('v3')));
    await packer.pack(packer.lastTransaction());
    const error = await t.throwsAsync(old.read(oid));
    t.true(isHandlertonError(error, 'HANDLERTON_READ_CONFLICT'), `${error?.constructor.name}: ${error?.message}`);
    await old.close();
    const fresh = await reader.snapshot();
    t.is(new TextDecoder().decode((await fresh.read(oid)).data), 'v3');
    await fresh.close();
  } finally {
    await Promise.allSettled([reader.close(), packer.close()]);
    await server!.dropSchema(schema);
  }
});
