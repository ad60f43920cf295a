/**
 * A client killed between its storage COMMIT and its blob commit left its blob revisions prepared
 * and their record references uncounted forever: a later pack could then reclaim a revision that
 * committed records still reference. Now another client that opens the database decides them (the
 * storage transaction committed: publish and count; it did not: discard), and never touches the
 * prepared transactions of a client that is still alive (its commit then counts its references once).
 */
import * as fs from 'node:fs';
import test from 'ava';
import pg from 'pg';
import { openDatabase, silentLogger, systemClock } from '@handlerton/framework';
import { plugin } from '../src/index.js';
import { PgBlobs } from '../src/pg-blobs.js';
import { startTestServerOrSkip } from '../src/testing/index.js';
import { commitStorageOnly, type Client } from './two-phase.js';

const started = await startTestServerOrSkip();
const server = 'server' in started ? started.server : undefined;
test.after.always('stop the PostgreSQL test server', async () => {
  await server?.stop();
});
const pgTest = server === undefined ? test.skip : test;
const context = { clock: systemClock, logger: silentLogger, fs };

async function openClient(schema: string): Promise<Client> {
  const options = plugin.parseOptions({ location: server!.url, options: { schema, poolSize: 2 }, configPath: 'storage' });
  return { storage: await plugin.createStorage!(options, context), blobs: await plugin.createBlobHandlerton!(options, context) };
}

/** What the tables hold for one revision: its state and reference count, or undefined when it is gone. */
async function revisionRow(schema: string, blobId: bigint, revision: bigint): Promise<{ state: string; record_refs: string } | undefined> {
  const client = new pg.Client({ connectionString: server!.url });
  await client.connect();
  try {
    const rows = await client.query<{ state: string; record_refs: string }>(
      `select state, record_refs::text from ${pg.escapeIdentifier(schema)}.blob_revision where blob_id = $1 and revision = $2`,
      [String(blobId), String(revision)],
    );
    return rows.rows[0];
  } finally {
    await client.end();
  }
}

/** Ends the session holding `blobs`' liveness lock, as the death of its process would. */
async function killLiveness(schema: string, blobId: bigint, revision: bigint): Promise<void> {
  const client = new pg.Client({ connectionString: server!.url });
  await client.connect();
  try {
    const key = await client.query<{ txn_key: string }>(`select txn_key from ${pg.escapeIdentifier(schema)}.blob_revision where blob_id = $1 and revision = $2`, [
      String(blobId),
      String(revision),
    ]);
    const id = key.rows[0]!.txn_key.split('.')[0];
    const killed = await client.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1`, [`handlerton-blobs ${schema} ${id}`.slice(0, 63)]);
    if (killed.rowCount !== 1) throw new Error(`expected one liveness session of client ${id}, found ${killed.rowCount}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    await client.end();
  }
}

pgTest('a client killed after its storage commit: the next client to open publishes its blob revision and counts the reference once', async (t) => {
  const schema = server!.newSchemaName('recover');
  const writer = await openClient(schema);
  try {
    const { blobId, revision } = await commitStorageOnly(writer, true);
    t.deepEqual(await revisionRow(schema, blobId, revision), { state: 'p', record_refs: '0' }, 'prepared, reference not yet counted');
    await killLiveness(schema, blobId, revision);
    const db = await openDatabase({ engine: 'postgres', path: server!.url, options: { schema, poolSize: 2 } });
    await db.close();
    t.deepEqual(await revisionRow(schema, blobId, revision), { state: 'c', record_refs: '1' }, 'published and counted by recovery');
    // A later open finds nothing left to decide: the count stays 1.
    const again = await openDatabase({ engine: 'postgres', path: server!.url, options: { schema, poolSize: 2 } });
    await again.close();
    t.deepEqual(await revisionRow(schema, blobId, revision), { state: 'c', record_refs: '1' });
  } finally {
    await Promise.allSettled([writer.storage.close(), writer.blobs.close()]);
    await server!.dropSchema(schema);
  }
});

pgTest('a client killed before its storage commit: its prepared revision and pending references are discarded', async (t) => {
  const schema = server!.newSchemaName('recover');
  const writer = await openClient(schema);
  try {
    const { blobId, revision } = await commitStorageOnly(writer, false);
    t.is((await revisionRow(schema, blobId, revision))?.state, 'p');
    await killLiveness(schema, blobId, revision);
    const db = await openDatabase({ engine: 'postgres', path: server!.url, options: { schema, poolSize: 2 } });
    await db.close();
    t.is(await revisionRow(schema, blobId, revision), undefined, 'the revision of a transaction that never committed is gone');
  } finally {
    await Promise.allSettled([writer.storage.close(), writer.blobs.close()]);
    await server!.dropSchema(schema);
  }
});

pgTest('a live client between storage commit and blob commit is left alone; its own commit then counts the reference once', async (t) => {
  const schema = server!.newSchemaName('recover');
  const writer = await openClient(schema);
  try {
    const { blobId, revision, btxn } = await commitStorageOnly(writer, true);
    const other = await PgBlobs.open(plugin.parseOptions({ location: server!.url, options: { schema, poolSize: 2 }, configPath: 'blobs' }) as never, fs);
    await other.recover(async () => true, async () => true);
    await other.close();
    t.deepEqual(await revisionRow(schema, blobId, revision), { state: 'p', record_refs: '0' }, 'not decided while its client lives');
    await writer.blobs.commit(btxn);
    t.deepEqual(await revisionRow(schema, blobId, revision), { state: 'c', record_refs: '1' });
  } finally {
    await Promise.allSettled([writer.storage.close(), writer.blobs.close()]);
    await server!.dropSchema(schema);
  }
});
