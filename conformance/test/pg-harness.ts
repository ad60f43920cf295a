/** Harnesses on the throwaway PostgreSQL server: one schema per case (and per extra engine), dropped at teardown. */
import type { EnginePlugin } from '@handlerton/framework';
import type { TestServer } from '@handlerton/postgres/testing';
import { mixedHarness, type Engines, type Harness, type HarnessLocation } from '../src/index.js';

/** Wraps `make(schema)` so that each case directory gets its own schema, dropped when the case tears down. */
export function schemaPerCase(server: TestServer, make: (schema: string) => Harness): Harness {
  const schemas = new Map<string, string>();
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
        await server.dropSchema(schema);
      }
    },
  };
}

/** PostgreSQL storage with the blob handlerton of `blobsPlugin` (a small pool: cases run four at a time). */
export function pgStorageHarness(server: TestServer, pgPlugin: EnginePlugin, blobsPlugin: EnginePlugin, blobOptions: Readonly<Record<string, unknown>> = {}): Harness {
  const same = pgPlugin === blobsPlugin;
  return schemaPerCase(server, (schema) =>
    mixedHarness(pgPlugin, blobsPlugin, {
      name: same ? 'postgres' : `postgres+${blobsPlugin.name}`,
      storage: { location: () => server.url, options: { schema, poolSize: 3 } },
      blobs: same ? { location: () => server.url, options: { schema, poolSize: 3 } } : { options: blobOptions },
    }),
  );
}
