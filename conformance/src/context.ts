/** Builds the context a case runs in, and tears it down afterwards whatever happened. */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Database } from '@handlerton/framework';
import { openDatabaseOver } from './framework-runtime.js';
import type { CaseContext, Engines, ExtraEngines, Harness } from './types.js';
import { mulberry32, seedOf } from './util/random.js';

/** A case context plus its disposal. */
export interface OwnedContext extends CaseContext {
  /** Closes every database and engine the case opened and removes its directory. */
  dispose(): Promise<void>;
  /** Notes recorded by the case. */
  readonly notes: readonly string[];
}

async function closeEngines(engines: Engines): Promise<void> {
  const results = await Promise.allSettled([engines.storage.close(), engines.blobs.close()]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

async function teardownEngines(harness: Harness, engines: Engines, dir: string): Promise<void> {
  if (harness.teardown !== undefined) await harness.teardown(engines, { dir });
  else await closeEngines(engines);
}

/** Creates the context for one case in `caseDir` (which must exist and be empty). */
export async function createContext(harness: Harness, caseDir: string, seedText: string): Promise<OwnedContext> {
  const engineDir = join(caseDir, 'engine');
  await mkdir(engineDir, { recursive: true });
  let engines: Engines = await harness.factory({ dir: engineDir });
  let database: Database | undefined;
  const locatorKey = randomBytes(32);
  const extras: { engines: ExtraEngines; dbs: Database[] }[] = [];
  const random = mulberry32(seedOf(seedText));
  const notes: string[] = [];

  const closeDatabase = async (): Promise<void> => {
    if (database !== undefined) {
      const db = database;
      database = undefined;
      await db.close();
    }
  };

  const ctx: OwnedContext = {
    dir: caseDir,
    harness,
    notes,
    get storage() {
      return engines.storage;
    },
    get blobs() {
      return engines.blobs;
    },
    async database() {
      if (database === undefined) {
        database = await openDatabaseOver(engines.storage, engines.blobs, locatorKey, harness.recordCacheBytes);
      }
      return database;
    },
    async reopen() {
      if (harness.reopen === undefined) throw new Error(`harness ${harness.name} claims durability but has no reopen()`);
      await closeDatabase();
      await closeEngines(engines);
      engines = await harness.reopen(engines, { dir: engineDir });
    },
    async crash() {
      if (harness.crash === undefined) throw new Error(`harness ${harness.name} claims crashSafe but has no crash()`);
      database = undefined;
      engines = await harness.crash(engines, { dir: engineDir });
    },
    clientConfig() {
      if (harness.clientConfig === undefined) throw new Error(`harness ${harness.name} has no clientConfig()`);
      return harness.clientConfig({ dir: engineDir });
    },
    async extraEngines(label: string) {
      const dir = join(caseDir, `extra-${label}-${extras.length}`);
      await mkdir(dir, { recursive: true });
      const opened = await harness.factory({ dir });
      const extra: ExtraEngines = { storage: opened.storage, blobs: opened.blobs, dir };
      extras.push({ engines: extra, dbs: [] });
      return extra;
    },
    async extraDatabase(target: Engines) {
      const owner = extras.find((e) => e.engines.storage === target.storage);
      const db = await openDatabaseOver(target.storage, target.blobs, randomBytes(32), harness.recordCacheBytes);
      owner?.dbs.push(db);
      return db;
    },
    random,
    randomInt(n: number) {
      return Math.floor(random() * n);
    },
    note(message: string) {
      notes.push(message);
    },
    async dispose() {
      const errors: unknown[] = [];
      const attempt = async (fn: () => Promise<void>): Promise<void> => {
        try {
          await fn();
        } catch (e) {
          errors.push(e);
        }
      };
      await attempt(closeDatabase);
      await attempt(() => teardownEngines(harness, engines, engineDir));
      for (const extra of extras) {
        for (const db of extra.dbs) await attempt(() => db.close());
        await attempt(() => teardownEngines(harness, extra.engines, extra.engines.dir));
      }
      await rm(caseDir, { recursive: true, force: true, maxRetries: 3 });
      if (errors.length > 0) throw errors[0];
    },
  };
  return ctx;
}
