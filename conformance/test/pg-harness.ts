/** Harnesses on the throwaway PostgreSQL server: one schema per case (and per extra engine), dropped at teardown. */
import type { EnginePlugin } from '@handlerton/framework';
import type { TestServer } from '@handlerton/postgres/testing';
import { mixedHarness, type Engines, type Harness, type HarnessLocation } from '../src/index.js';

/** A harness whose schema drops run one at a time after each case; `drained()` waits for them (and throws the first failure). */
export type PgHarness = Harness & { drained(): Promise<void> };

/**
 * Wraps `make(schema)` so that each case directory gets its own schema, dropped when the case tears
 * down. The drop is queued (one at a time, off the case's path: a DROP SCHEMA costs as much as the
 * case itself on a loaded machine); `drained()` waits for every queued drop.
 */
export function schemaPerCase(server: TestServer, make: (schema: string) => Harness): PgHarness {
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
  const template = make('unused');
  return {
    ...template,
    factory: (location: HarnessLocation) => make(schemaFor(location.dir)).factory(location),
    reopen: (closed: Engines, location: HarnessLocation) => make(schemaFor(location.dir)).reopen!(closed, location),
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

/** PostgreSQL storage with the blob handlerton of `blobsPlugin` (a small pool: cases run four at a time). */
export function pgStorageHarness(server: TestServer, pgPlugin: EnginePlugin, blobsPlugin: EnginePlugin, blobOptions: Readonly<Record<string, unknown>> = {}): PgHarness {
  const same = pgPlugin === blobsPlugin;
  return schemaPerCase(server, (schema) =>
    mixedHarness(pgPlugin, blobsPlugin, {
      name: same ? 'postgres' : `postgres+${blobsPlugin.name}`,
      storage: { location: () => server.url, options: { schema, poolSize: 3 } },
      blobs: same ? { location: () => server.url, options: { schema, poolSize: 3 } } : { options: blobOptions },
    }),
  );
}

/** PostgreSQL storage and blobs with the local blob cache on, in `cacheDir` (shared by every case: each schema is its own database id). */
export function pgCachedBlobsHarness(server: TestServer, pgPlugin: EnginePlugin, cacheDir: string): PgHarness {
  return schemaPerCase(server, (schema) =>
    mixedHarness(pgPlugin, pgPlugin, {
      name: 'postgres+blob-cache',
      storage: { location: () => server.url, options: { schema, poolSize: 3 } },
      blobs: { location: () => server.url, options: { schema, poolSize: 3, blobCacheDir: cacheDir, blobCacheBytes: 8 * 1024 * 1024 } },
    }),
  );
}
