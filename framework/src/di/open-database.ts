/**
 * openDatabase: config -> child container -> engines -> Database.
 *
 * Each database gets a child container of the root holding its config, clock, logger, file-system
 * access and locator keys (any of them can be overridden, e.g. a fake clock or a failing disk).
 * Closing the database closes its engines, then disposes the child container.
 */
import 'reflect-metadata';
import * as nodeFs from 'node:fs';
import { inject, injectable, Lifecycle } from 'tsyringe';
import type { BlobHandlerton } from '../contracts/blob-handlerton.js';
import type { Clock, EngineContext, FileSystem, Logger } from '../contracts/context.js';
import { systemClock } from '../contracts/context.js';
import type { Database, RecordCodec } from '../contracts/database.js';
import { InvalidArgumentError, InvalidConfigError } from '../contracts/errors.js';
import type { EnginePlugin } from '../contracts/plugin.js';
import type { Storage } from '../contracts/storage.js';
import { resolveConfig, type DatabaseConfig, type DatabaseConfigObject, type ResolvedConfig, type ResolvedEngine } from '../config/database-config.js';
import { createDatabase } from '../database/create-database.js';
import { keysFromSecrets } from '../database/locator-keys.js';
import type { DatabaseImpl } from '../database/database.js';
import { loggerFromEnv } from '../util/stderr-logger.js';
import { describeValue } from '../util/validate.js';
import { loadEnginePlugin, rootContainer } from './root-container.js';
import { CLOCK, DATABASE_CONFIG, ENGINE_CONTEXT, FILE_SYSTEM, LOCATOR_KEYS, LOGGER } from './tokens.js';

/** Services a caller may replace for one database. */
export interface DatabaseOverrides {
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly fs?: FileSystem;
}

/** Opens the engines named by the config held in its container and builds the Database. */
@injectable()
export class DatabaseOpener {
  constructor(
    @inject(DATABASE_CONFIG) private readonly config: ResolvedConfig,
    @inject(ENGINE_CONTEXT) private readonly context: EngineContext,
    @inject(LOCATOR_KEYS) private readonly locatorKeys: readonly Uint8Array[],
  ) {}

  /** Opens storage and blobs; closes whatever opened when a later step fails. */
  async open<V>(onClose: () => Promise<void>): Promise<DatabaseImpl<V> & Database<V>> {
    const storagePlugin = await pluginFor(this.config.storage);
    const blobsPlugin = await pluginFor(this.config.blobs);
    const storageOptions = storagePlugin.parseOptions(request(this.config.storage, storagePlugin));
    const blobsOptions = blobsPlugin.parseOptions(request(this.config.blobs, blobsPlugin));
    if (storagePlugin.createStorage === undefined) {
      throw new InvalidConfigError(`engine "${storagePlugin.name}" provides no storage`, 'storage.engine');
    }
    if (blobsPlugin.createBlobHandlerton === undefined) {
      throw new InvalidConfigError(`engine "${blobsPlugin.name}" provides no blob handlerton`, 'blobs.engine');
    }
    const logger = this.context.logger;
    const storage: Storage = await storagePlugin.createStorage(storageOptions, { ...this.context, logger: logger.child({ engine: storagePlugin.name }) });
    let blobs: BlobHandlerton | undefined;
    try {
      blobs = await blobsPlugin.createBlobHandlerton(blobsOptions, { ...this.context, logger: logger.child({ blobs: blobsPlugin.name }) });
      return await createDatabase<V>({
        storage,
        blobs,
        locatorKeys: this.locatorKeys,
        clock: this.context.clock,
        logger,
        onClose,
        recordCacheBytes: this.config.recordCacheBytes,
        codec: this.config.codec,
      });
    } catch (error) {
      await blobs?.close().catch(() => undefined);
      await storage.close().catch(() => undefined);
      throw error;
    }
  }
}

/**
 * Opens a database from config (see README "Configuration"). `V` is the value type of records: Uint8Array
 * with the default codec, inferred from a codec object, or named by the caller for `'json'` / `'v8'`
 * (`openDatabase<MyDoc>({ ..., codec: 'json' })`: asserted, not checked against the stored data).
 */
export function openDatabase<V>(config: DatabaseConfigObject<V> & { readonly codec: 'json' | 'v8' | RecordCodec<V> }, overrides?: DatabaseOverrides): Promise<DatabaseImpl<V> & Database<V>>;
/** Opens a database whose records are bytes (the default codec). */
export function openDatabase(config: DatabaseConfig, overrides?: DatabaseOverrides): Promise<DatabaseImpl & Database>;
export async function openDatabase<V>(config: DatabaseConfig<V>, overrides: DatabaseOverrides = {}): Promise<DatabaseImpl<V> & Database<V>> {
  const resolved = resolveConfig(config);
  assertOverrides(overrides);
  const scope = rootContainer.createChildContainer();
  scope.register(DATABASE_CONFIG, { useValue: resolved });
  scope.register(CLOCK, { useValue: overrides.clock ?? systemClock });
  scope.register(LOGGER, { useValue: overrides.logger ?? loggerFromEnv() });
  scope.register(FILE_SYSTEM, { useValue: overrides.fs ?? nodeFs });
  scope.register(LOCATOR_KEYS, { useFactory: (c) => locatorKeysFor(c.resolve(DATABASE_CONFIG)) });
  scope.register(ENGINE_CONTEXT, {
    useFactory: (c) => Object.freeze({ clock: c.resolve(CLOCK), logger: c.resolve(LOGGER), fs: c.resolve(FILE_SYSTEM) }),
  });
  scope.register(DatabaseOpener, { useClass: DatabaseOpener }, { lifecycle: Lifecycle.ContainerScoped });
  try {
    return await scope.resolve(DatabaseOpener).open<V>(() => Promise.resolve(scope.dispose()));
  } catch (error) {
    await scope.dispose();
    throw error;
  }
}

async function pluginFor(engine: ResolvedEngine): Promise<EnginePlugin> {
  return typeof engine.engine === 'string' ? loadEnginePlugin(engine.engine) : engine.engine;
}

function request(engine: ResolvedEngine, plugin: EnginePlugin): { location: string | undefined; options: Readonly<Record<string, unknown>>; configPath: string } {
  // A location the framework derived (blobs beside the storage) is never imposed on an engine that keeps nothing at one.
  const location = engine.locationDerived && plugin.locationless === true ? undefined : engine.location;
  return { location, options: engine.options, configPath: engine.configPath };
}

/** Keys from the configured secrets; none (the storage's per-database secret is used) when none is configured. */
function locatorKeysFor(config: ResolvedConfig): readonly Uint8Array[] {
  return config.locatorSecret === undefined ? [] : keysFromSecrets(config.locatorSecret);
}

function assertOverrides(overrides: unknown): asserts overrides is DatabaseOverrides {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw new InvalidArgumentError(`overrides must be an object, got ${describeValue(overrides)}`);
  }
  // fs may be a partial fake (tests inject failing disks): only its being an object is checked.
  const shapes: Record<string, string | null> = { clock: 'now', logger: 'child', fs: null };
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in shapes)) throw new InvalidArgumentError(`overrides.${key} is not an override (allowed: ${Object.keys(shapes).join(', ')})`);
    if (value === undefined) continue;
    const method = shapes[key];
    const ok = typeof value === 'object' && value !== null && (method === null || typeof (value as Record<string, unknown>)[method] === 'function');
    if (!ok) {
      throw new InvalidArgumentError(`overrides.${key} must be ${method === null ? 'an object' : `an object with ${method}()`}, got ${describeValue(value)}`);
    }
  }
}
