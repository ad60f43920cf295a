/**
 * The whole suite against the PostgreSQL engine (storage and blobs), and the mixed pairs with
 * FileStorage2, on the server named by HANDLERTON_PG_URL or a throwaway cluster started once for this
 * file (skipped with the reason when neither exists, unless HANDLERTON_PG_REQUIRED is set: then the
 * file fails). Every case runs in its own schema, dropped at teardown.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startTestServerOrSkip } from '@handlerton/postgres/testing';
import { cacheOffHarness, conformance, mixedHarness, type Area } from '../src/index.js';
import { tryLoad } from './engines.js';
import { KNOWN_FRAMEWORK_DEFECTS } from './helpers.js';
import { PG_BLOB_BYTES, pgCachedBlobsHarness, pgStorageHarness, schemaPerCase } from './pg-harness.js';

/**
 * The areas where a storage and a blob handlerton meet: references counted and released across the
 * pair. (mixed.test.ts also runs manifest, locators and durability for its pairs; here they add two
 * minutes on a loaded 2-core machine, and the full PostgreSQL run above already covers them.)
 */
const MIXED_AREAS: readonly Area[] = ['blobs', 'packing', 'external-gc'];
/** Cases that cannot apply to a server-side engine, with the reason. */
const PG_EXCLUDES: Readonly<Record<string, string>> = {
  ...KNOWN_FRAMEWORK_DEFECTS,
};

const started = await startTestServerOrSkip();
const [pgLoaded, fs2Loaded] = [await tryLoad('postgres'), await tryLoad('filestorage2')];
if ('server' in started && 'plugin' in pgLoaded && 'plugin' in fs2Loaded) {
  const { server } = started;
  const pg = pgLoaded.plugin;
  const fs2 = fs2Loaded.plugin;
  // The blobs area once more with the local blob cache on (8 MiB, so that the larger cases also evict).
  const cacheDir = mkdtempSync(join(tmpdir(), 'htpg-conformance-cache-'));
  const harnesses = [
    pgStorageHarness(server, pg, pg),
    pgStorageHarness(server, pg, fs2),
    schemaPerCase(server, (schema) =>
      ({ ...mixedHarness(fs2, pg, { name: 'filestorage2+postgres', blobs: { location: () => server.url, options: { schema, poolSize: 3 } } }), blobBytesElsewhere: PG_BLOB_BYTES }),
    ),
    pgCachedBlobsHarness(server, pg, cacheDir),
  ] as const;
  test.after.always('drop the case schemas, stop the PostgreSQL test server', async () => {
    try {
      for (const harness of harnesses) await harness.drained();
    } finally {
      await server.stop();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
  conformance(test, harnesses[0], { exclude: PG_EXCLUDES, concurrency: 6 });
  conformance(test, harnesses[1], { areas: MIXED_AREAS, exclude: PG_EXCLUDES, concurrency: 6 });
  conformance(test, harnesses[2], { areas: MIXED_AREAS, exclude: PG_EXCLUDES, concurrency: 6 });
  // The areas whose Database cases read and write records again, with the record cache off.
  conformance(test, cacheOffHarness(harnesses[0]), { areas: ['transactions', 'conflicts', 'mvcc', 'concurrency'], exclude: PG_EXCLUDES, concurrency: 6 });
  conformance(test, harnesses[3], { areas: ['blobs'], exclude: PG_EXCLUDES, concurrency: 6 });
} else {
  const reason = 'skip' in started ? started.skip : 'missing' in pgLoaded ? pgLoaded.missing : 'missing' in fs2Loaded ? fs2Loaded.missing : '';
  if ('server' in started) await started.server.stop();
  test.skip(reason, (t) => t.pass());
}
