/** Ready-made harnesses: from an EnginePlugin, from a storage/blobs plugin pair, and wrappers. */
import * as nodeFs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  InvalidArgumentError,
  isHandlertonError,
  RuntimeStorage,
  silentLogger,
  systemClock,
  type BlobCapabilities,
  type EngineContext,
  type EngineOptions,
  type EnginePlugin,
  type Storage,
  type StorageCapabilities,
} from '@handlerton/framework';
import type { Engines, Harness, HarnessLocation } from './types.js';

/** How a plugin is opened inside a case directory. */
export interface PluginHarnessOptions {
  /** The engine location for a case directory (default: `<dir>/store`, a path that does not exist yet). */
  readonly location?: (dir: string) => string | undefined;
  /** Engine options passed to `parseOptions`. */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Harness name (default: the plugin name). */
  readonly name?: string;
  /** The engine context (default: system clock, silent logger, node:fs). */
  readonly context?: EngineContext;
  /** Overrides the plugin's static storage manifest (when options change what the engine claims). */
  readonly storageCapabilities?: StorageCapabilities;
  /** Overrides the plugin's static blob manifest (e.g. for a non-default blob mode option). */
  readonly blobCapabilities?: BlobCapabilities;
}

const defaultContext: EngineContext = Object.freeze({ clock: systemClock, logger: silentLogger, fs: nodeFs });
const defaultLocation = (dir: string): string => join(dir, 'store');

function requireManifest<T>(value: T | undefined, plugin: EnginePlugin, what: string): T {
  if (value === undefined) throw new InvalidArgumentError(`plugin "${plugin.name}" declares no static ${what} manifest`);
  return value;
}

/**
 * Parses the plugin's options for a case directory. Without an explicit `location`, an engine that
 * rejects the default location (an in-memory engine) is asked again without one.
 */
function parseFor(plugin: EnginePlugin, options: PluginHarnessOptions, dir: string, configPath: string): EngineOptions {
  const request = (location: string | undefined) => ({ location, options: options.options ?? {}, configPath });
  if (options.location !== undefined) return plugin.parseOptions(request(options.location(dir)));
  try {
    return plugin.parseOptions(request(defaultLocation(dir)));
  } catch (error) {
    const option = (error as { option?: unknown }).option;
    if (isHandlertonError(error, 'HANDLERTON_INVALID_CONFIG') && typeof option === 'string' && option.endsWith('location')) {
      return plugin.parseOptions(request(undefined));
    }
    throw error;
  }
}

async function openStorage(plugin: EnginePlugin, options: PluginHarnessOptions, dir: string): Promise<Storage> {
  if (plugin.createStorage === undefined) throw new InvalidArgumentError(`plugin "${plugin.name}" provides no storage`);
  return plugin.createStorage(parseFor(plugin, options, dir, 'storage'), options.context ?? defaultContext);
}

async function openBlobs(plugin: EnginePlugin, options: PluginHarnessOptions, dir: string): Promise<Engines['blobs']> {
  if (plugin.createBlobHandlerton === undefined) throw new InvalidArgumentError(`plugin "${plugin.name}" provides no blob handlerton`);
  return plugin.createBlobHandlerton(parseFor(plugin, options, dir, 'blobs'), options.context ?? defaultContext);
}

/** A harness opening both the storage and the blob handlerton from one plugin. */
export function harnessFromPlugin(plugin: EnginePlugin, options: PluginHarnessOptions = {}): Harness {
  return mixedHarness(plugin, plugin, { storage: options, blobs: options, name: options.name ?? plugin.name });
}

/** Options of a mixed harness: per-plugin options, and a name. */
export interface MixedHarnessOptions {
  readonly storage?: PluginHarnessOptions;
  readonly blobs?: PluginHarnessOptions;
  readonly name?: string;
}

/**
 * A harness taking the storage from one plugin and the blob handlerton from another (e.g.
 * FileStorage2 records with SQLite blobs). Each gets its own sub-directory unless both are one plugin.
 */
export function mixedHarness(storagePlugin: EnginePlugin, blobsPlugin: EnginePlugin, options: MixedHarnessOptions = {}): Harness {
  const same = storagePlugin === blobsPlugin;
  const storageDir = (dir: string): string => (same ? dir : join(dir, 'storage'));
  const blobsDir = (dir: string): string => (same ? dir : join(dir, 'blobs'));
  const storageOptions = options.storage ?? {};
  const blobOptions = options.blobs ?? {};
  const storageCapabilities: StorageCapabilities =
    storageOptions.storageCapabilities ?? requireManifest(storagePlugin.storageCapabilities, storagePlugin, 'storage');
  const blobCapabilities: BlobCapabilities =
    blobOptions.blobCapabilities ?? requireManifest(blobsPlugin.blobCapabilities, blobsPlugin, 'blob');
  const open = async ({ dir }: HarnessLocation): Promise<Engines> => {
    await nodeFs.promises.mkdir(storageDir(dir), { recursive: true });
    await nodeFs.promises.mkdir(blobsDir(dir), { recursive: true });
    const storage = await openStorage(storagePlugin, storageOptions, storageDir(dir));
    try {
      return { storage, blobs: await openBlobs(blobsPlugin, blobOptions, blobsDir(dir)) };
    } catch (e) {
      await storage.close();
      throw e;
    }
  };
  const durable = storageCapabilities.durable || blobCapabilities.durable;
  return {
    name: options.name ?? (same ? storagePlugin.name : `${storagePlugin.name}+${blobsPlugin.name}`),
    storageCapabilities,
    blobCapabilities,
    factory: open,
    ...(durable ? { reopen: async (_closed: Engines, location: HarnessLocation) => open(location) } : {}),
    async teardown(engines: Engines) {
      await Promise.all([engines.storage.close(), engines.blobs.close()]);
    },
  };
}

/**
 * The same harness with every storage wrapped (e.g. in the framework's RuntimeStorage), so the whole
 * suite runs again through the wrapper.
 */
export function wrapStorageHarness(harness: Harness, name: string, wrap: (storage: Storage) => Storage): Harness {
  const wrapEngines = (e: Engines): Engines => ({ storage: wrap(e.storage), blobs: e.blobs });
  return {
    ...harness,
    name,
    factory: async (location) => wrapEngines(await harness.factory(location)),
    ...(harness.reopen ? { reopen: async (closed: Engines, location: HarnessLocation) => wrapEngines(await harness.reopen!(closed, location)) } : {}),
    ...(harness.crash ? { crash: async (engines: Engines, location: HarnessLocation) => wrapEngines(await harness.crash!(engines, location)) } : {}),
  };
}

/**
 * The same harness with the framework's RuntimeStorage in front of every storage, as applications
 * get it from `openDatabase`: argument validation, lifecycle and capability checks are the
 * framework's job, so an engine tested this way need not repeat them. The conformance CLI tests
 * engines this way unless given `--raw`.
 */
export function throughFramework(harness: Harness): Harness {
  return wrapStorageHarness(harness, harness.name, (storage) => (storage instanceof RuntimeStorage ? storage : new RuntimeStorage(storage)));
}

/**
 * Like harnessFromPlugin, for options that change what the engine claims: opens the engines once in
 * a scratch directory and takes the manifests they declare as the harness's static manifests.
 */
export async function harnessFromPluginProbed(plugin: EnginePlugin, options: PluginHarnessOptions = {}): Promise<Harness> {
  const probe = harnessFromPlugin(plugin, options);
  const dir = await nodeFs.promises.mkdtemp(join(tmpdir(), 'handlerton-conformance-probe-'));
  try {
    const engines = await probe.factory({ dir });
    const manifests = { storageCapabilities: engines.storage.capabilities, blobCapabilities: engines.blobs.capabilities };
    await Promise.all([engines.storage.close(), engines.blobs.close()]);
    return harnessFromPlugin(plugin, { ...options, ...manifests });
  } finally {
    await nodeFs.promises.rm(dir, { recursive: true, force: true });
  }
}

/**
 * The "reopened" trait for durable engines: every case starts on engines that were opened, closed
 * and reopened on their (empty) directory, so start-up paths get the same coverage as fresh ones.
 */
export function reopenedHarness(harness: Harness): Harness {
  const reopen = harness.reopen;
  if (reopen === undefined) throw new InvalidArgumentError(`harness ${harness.name} has no reopen(): the reopened trait needs one`);
  return {
    ...harness,
    name: `${harness.name} (reopened)`,
    factory: async (location) => {
      const first = await harness.factory(location);
      await Promise.all([first.storage.close(), first.blobs.close()]);
      return reopen(first, location);
    },
  };
}

/** The same harness with the Database's record cache turned off (the suite must pass with it on and off). */
export function cacheOffHarness(harness: Harness): Harness {
  return { ...harness, name: `${harness.name} (cache off)`, recordCacheBytes: 0 };
}
