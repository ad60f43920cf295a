/**
 * `handlerton copy` migrates a FileStorage2 database with history, deletes and blobs into
 * PostgreSQL and back, run as an operator would (the CLI as a process, JSON configs): the round trip
 * leaves no difference in transactions, metadata, records, histories or blob bytes.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase, type Oid } from '@handlerton/framework';
import { startTestServerOrSkip } from '@handlerton/postgres/testing';
import { harnessFromPlugin, type Engines } from '../src/index.js';
import { digestRevision } from '../src/util/blob-io.js';
import { collect } from '../src/util/records.js';
import { tryLoad } from './engines.js';

const bin = fileURLToPath(new URL('../../../framework/bin/handlerton.js', import.meta.url));
const enc = new TextEncoder();

function copy(from: string, to: string): void {
  const run = spawnSync(process.execPath, [bin, '--json', 'copy', from, to], { encoding: 'utf8', timeout: 120_000 });
  if (run.status !== 0) throw new Error(`handlerton copy exited ${run.status}: ${run.stderr}`);
}

/** A FileStorage2 database with several revisions per object, a delete, metadata and two blobs of two revisions each. */
async function populate(path: string): Promise<void> {
  const db = await openDatabase(`filestorage2:${path}`);
  try {
    const [a, b, gone] = await db.transaction(
      async (tx) => [await tx.create(enc.encode('a0')), await tx.create(enc.encode('b0')), await tx.create(enc.encode('doomed'))],
      { meta: { user: 'alice', description: 'create three', extension: { ticket: 7 } } },
    );
    await db.transaction(async (tx) => tx.write(b!, enc.encode('b1'), { refs: [a!] }), { meta: { description: 'b points at a' } });
    for (let i = 1; i <= 3; i++) await db.transaction(async (tx) => tx.write(a!, enc.encode(`a${i}`)));
    await db.transaction(async (tx) => tx.delete(gone!), { meta: { user: 'gc', description: 'delete' } });
    for (const size of [1_500_000, 40_000]) {
      const oid = await db.transaction(async (tx) => {
        const blob = await tx.createBlob();
        const h = await blob.open('w');
        const chunk = new Uint8Array(64 * 1024);
        for (let at = 0; at < size; at += chunk.length) await h.write(chunk.fill(at % 251).subarray(0, Math.min(chunk.length, size - at)));
        await h.close();
        return blob.oid;
      });
      await db.transaction(async (tx) => {
        const h = await (await tx.blob(oid)).open('a');
        await h.write(enc.encode(`appended to ${size}`));
        await h.close();
      });
    }
  } finally {
    await db.close();
  }
}

/** Everything a copy must keep, with blob ids replaced by the revision's size and digest (ids may be renumbered). */
async function fingerprint(e: Engines): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const txn of await collect(e.storage.iterator())) {
    const records = [];
    for (const r of txn.records) {
      const blobs = [];
      for (const ref of r.record?.refs.blobs ?? []) blobs.push({ revision: ref.revision, ...(await digestRevision(e.blobs, ref.blobId, ref.revision)) });
      records.push({ oid: r.oid, tid: r.tid, data: r.record === null ? null : Buffer.from(r.record.data).toString('base64'), oids: [...(r.record?.refs.oids ?? [])], blobs });
    }
    out.push({ tid: txn.tid, meta: txn.meta, records });
  }
  const oids = new Set<Oid>();
  for (const t of out as { records: { oid: Oid }[] }[]) for (const r of t.records) oids.add(r.oid);
  for (const oid of [...oids].sort()) {
    const history = await e.storage.history(oid, 100).catch((error: unknown) => String(error));
    out.push({ oid, history: Array.isArray(history) ? history.map((h) => ({ ...h, time: h.time.getTime() })) : history });
  }
  return out;
}

const started = await startTestServerOrSkip();
const [pgLoaded, fs2Loaded] = [await tryLoad('postgres'), await tryLoad('filestorage2')];
if ('server' in started && 'plugin' in fs2Loaded && 'plugin' in pgLoaded) {
  const { server } = started;
  const fs2 = fs2Loaded.plugin;
  test.after.always('stop the PostgreSQL test server', async () => {
    await server.stop();
  });

  test('handlerton copy: FileStorage2 -> PostgreSQL -> FileStorage2 leaves no difference (history, deletes, metadata, blobs)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'hc-pg-copy-'));
    const schema = server.newSchemaName('copy');
    try {
      await populate(join(dir, 'src'));
      const pg = JSON.stringify({ engine: 'postgres', path: server.url, options: { schema, poolSize: 2 } });
      copy(`filestorage2:${join(dir, 'src')}`, pg);
      copy(pg, `filestorage2:${join(dir, 'back')}`);
      const at = (path: string) => harnessFromPlugin(fs2, { location: () => path }).factory({ dir: path });
      const [src, back] = [await at(join(dir, 'src')), await at(join(dir, 'back'))];
      try {
        const expected = await fingerprint(src);
        t.true(expected.length >= 14, `the source has its 10 transactions and 5 histories to compare (got ${expected.length} entries)`);
        t.deepEqual(await fingerprint(back), expected);
      } finally {
        await Promise.allSettled([src.storage.close(), src.blobs.close(), back.storage.close(), back.blobs.close()]);
      }
    } finally {
      await server.dropSchema(schema);
      await rm(dir, { recursive: true, force: true });
    }
  });
} else {
  const reason = 'skip' in started ? started.skip : 'missing' in pgLoaded ? pgLoaded.missing : 'missing' in fs2Loaded ? fs2Loaded.missing : '';
  if ('server' in started) await started.server.stop();
  test.skip(reason, (t) => t.pass());
}
