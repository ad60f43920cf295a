/**
 * Harnesses on a PostgreSQL server (the engine `postgres`): one schema per case (and per extra
 * engine), dropped at teardown; the pure PostgreSQL harness also gives other processes the config
 * of the case's schema (clientConfig), for the multi-client area.
 */
import type { DatabaseConfigObject, EnginePlugin } from '@handlerton/framework';
import { mixedHarness } from '../harness.js';
import type { Engines, Harness, HarnessLocation } from '../types.js';

/** What the harness needs of a server (`@handlerton/postgres/testing`'s TestServer has it). */
export interface SchemaServer {
  /** A connection string to a database on the server. */
  readonly url: string;
  /** A fresh schema name, unique on this server for this run. */
  newSchemaName(prefix?: string): string;
  /** Drops `schema` and everything in it. */
  dropSchema(schema: string): Promise<void>;
}

/** A harness whose schema drops run one at a time after each case; `drained()` waits for them (and throws the first failure). */
export type PgHarness = Harness & { drained(): Promise<void> };

/**
 * Wraps `make(schema)` so that each case directory gets its own schema, dropped when the case tears
 * down. The drop is queued (one at a time, off the case's path: a DROP SCHEMA costs as much as the
 * case itself on a loaded machine); `drained()` waits for every queued drop.
 */
export function schemaPerCase(server: SchemaServer, make: (schema: string) => Harness): PgHarness {
  const schemas = new Map<string, string>();
  let queue: Promise<void> = Promise.resolve();
  let failure: unknown;
  const schemaFor = (dir: string): string => {
    let schema = schemas.get(dir);
    if (schema === undefined) {
      schema = server.newSchemaName('c');
      schemas.set(dir, schema);
    }
    return schema;
  };
  const { clientConfig, ...template } = make('unused');
  return {
    ...template,
    factory: (location: HarnessLocation) => make(schemaFor(location.dir)).factory(location),
    reopen: (closed: Engines, location: HarnessLocation) => make(schemaFor(location.dir)).reopen!(closed, location),
    ...(clientConfig !== undefined ? { clientConfig: (location: HarnessLocation) => make(schemaFor(location.dir)).clientConfig!(location) } : {}),
    async teardown(engines: Engines, location: HarnessLocation) {
      await Promise.all([engines.storage.close(), engines.blobs.close()]);
      const schema = schemas.get(location.dir);
      if (schema !== undefined) {
        schemas.delete(location.dir);
        queue = queue.then(() => server.dropSchema(schema)).catch((error: unknown) => {
          failure ??= error;
        });
      }
    },
    async drained() {
      await queue;
      if (failure !== undefined) throw failure;
    },
  };
}

/**
 * PostgreSQL storage with the blob handlerton of `blobsPlugin` (a small pool: cases run several at
 * a time). With PostgreSQL blobs too, other processes can open the case's database (clientConfig).
 */
export function pgStorageHarness(
  server: SchemaServer,
  pgPlugin: EnginePlugin,
  blobsPlugin: EnginePlugin,
  blobOptions: Readonly<Record<string, unknown>> = {},
  pgOptions: Readonly<Record<string, unknown>> = {},
): PgHarness {
  const same = pgPlugin === blobsPlugin;
  return schemaPerCase(server, (schema) => {
    const options = { poolSize: 3, ...pgOptions, schema };
    const harness = mixedHarness(pgPlugin, blobsPlugin, {
      name: same ? 'postgres' : `postgres+${blobsPlugin.name}`,
      storage: { location: () => server.url, options },
      blobs: same ? { location: () => server.url, options } : { options: blobOptions },
    });
    if (!same) return harness;
    return { ...harness, blobBytesElsewhere: PG_BLOB_BYTES, clientConfig: (): DatabaseConfigObject => ({ engine: pgPlugin.name, path: server.url, options }) };
  });
}

/** PostgreSQL storage and blobs with the local blob cache on, in `cacheDir` (shared by every case: each schema is its own database id). */
export function pgCachedBlobsHarness(server: SchemaServer, pgPlugin: EnginePlugin, cacheDir: string): PgHarness {
  return schemaPerCase(server, (schema) => ({
    ...mixedHarness(pgPlugin, pgPlugin, {
      name: 'postgres+blob-cache',
      storage: { location: () => server.url, options: { schema, poolSize: 3 } },
      blobs: { location: () => server.url, options: { schema, poolSize: 3, blobCacheDir: cacheDir, blobCacheBytes: 8 * 1024 * 1024 } },
    }),
    blobBytesElsewhere: PG_BLOB_BYTES,
  }));
}

/** Why the blob-damage case cannot run on PostgreSQL blobs. */
export const PG_BLOB_BYTES =
  'blob bytes live in the PostgreSQL server, not in files under the case directory: damaging one needs a harness hook that edits a chunk row (and the engine has no per-chunk checksum yet)';
