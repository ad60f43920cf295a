/**
 * Opens the engines under test through their plugin packages, the way the framework does:
 * `plugin.parseOptions` then `createStorage` / `createBlobHandlerton`. A package that does not
 * build or does not export a usable plugin makes the benchmark "not available" with the reason.
 */
import * as nodeFs from 'node:fs';
import * as path from 'node:path';
import {
  silentLogger,
  systemClock,
  type BlobHandlerton,
  type EngineContext,
  type EnginePlugin,
  type Storage,
} from '@handlerton/framework';
import { UnavailableError } from './context.js';

/** The engines the bench measures. */
export type EngineName = 'memory' | 'filestorage2' | 'sqlite';

/** Every engine, in report order. */
export const ENGINES: readonly EngineName[] = ['filestorage2', 'sqlite', 'memory'];

const PACKAGES: Readonly<Record<EngineName, string>> = {
  memory: '@handlerton/memory',
  filestorage2: '@handlerton/filestorage2',
  sqlite: '@handlerton/sqlite-blobs',
};

/** Whether the engine keeps data across a reopen (datasets can be prepared in another process). */
export function isDurable(engine: EngineName): boolean {
  return engine !== 'memory';
}

/** Checks the name is one of ours. */
export function engineName(value: string): EngineName {
  if (value === 'memory' || value === 'filestorage2' || value === 'sqlite') return value;
  throw new Error(`unknown engine "${value}"`);
}

function isPlugin(value: unknown): value is EnginePlugin {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<EnginePlugin>;
  return typeof candidate.name === 'string' && typeof candidate.parseOptions === 'function';
}

const loaded = new Map<EngineName, EnginePlugin>();

/** Imports the engine's package and returns its plugin; UnavailableError when it cannot. */
export async function loadPlugin(engine: EngineName): Promise<EnginePlugin> {
  const cached = loaded.get(engine);
  if (cached !== undefined) return cached;
  const pkg = PACKAGES[engine];
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pkg)) as Record<string, unknown>;
  } catch (error) {
    throw new UnavailableError(`${pkg} does not load (not built yet?): ${firstLine(error)}`);
  }
  const plugin = mod['plugin'] ?? mod['default'];
  if (!isPlugin(plugin)) throw new UnavailableError(`${pkg} exports no EnginePlugin as "plugin" or default`);
  loaded.set(engine, plugin);
  return plugin;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}

/** The engine context the bench hands engines: system clock, silent logger, real fs. */
export const benchContext: EngineContext = { clock: systemClock, logger: silentLogger, fs: nodeFs };

/** The engine options the bench runs with: the durable default of each engine, stated explicitly. */
function engineOptions(engine: EngineName, extra: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const base: Record<string, unknown> = {};
  if (engine === 'filestorage2') base['syncMode'] = 'always';
  if (engine === 'sqlite') base['synchronous'] = 'full';
  return { ...base, ...extra };
}

/** Where an engine keeps its data inside `dir`. */
export function engineLocation(engine: EngineName, dir: string): string | undefined {
  if (engine === 'memory') return undefined;
  if (engine === 'sqlite') return path.join(dir, 'sqlite.db');
  return path.join(dir, 'fs2');
}

/** Opens the engine's Storage with data in `dir`. */
export async function openStorage(
  engine: EngineName,
  dir: string,
  extra: Readonly<Record<string, unknown>> = {},
): Promise<Storage> {
  const plugin = await loadPlugin(engine);
  if (plugin.createStorage === undefined) throw new UnavailableError(`${plugin.name} provides no storage`);
  const location = engineLocation(engine, dir);
  if (engine === 'filestorage2' && location !== undefined) await nodeFs.promises.mkdir(location, { recursive: true });
  const options = plugin.parseOptions({ location, options: engineOptions(engine, extra), configPath: 'storage' });
  return plugin.createStorage(options, benchContext);
}

/** Opens the engine's BlobHandlerton with data in `dir`. */
export async function openBlobs(
  engine: EngineName,
  dir: string,
  extra: Readonly<Record<string, unknown>> = {},
): Promise<BlobHandlerton> {
  const plugin = await loadPlugin(engine);
  if (plugin.createBlobHandlerton === undefined) throw new UnavailableError(`${plugin.name} provides no blob handlerton`);
  // FileStorage2 keeps blobs under <storage directory>/blobs; SQLite shares the database file.
  const location = engineLocation(engine, dir);
  if (engine === 'filestorage2' && location !== undefined) await nodeFs.promises.mkdir(location, { recursive: true });
  const options = plugin.parseOptions({ location, options: engineOptions(engine, extra), configPath: 'blobs' });
  return plugin.createBlobHandlerton(options, benchContext);
}

/** A storage that can seal its active segment on demand (FileStorage2). */
export interface Sealable {
  seal(): Promise<void>;
}

/** Returns the storage's on-demand seal, when it has one. */
export function sealOf(storage: Storage): Sealable | undefined {
  const candidate = storage as Storage & Partial<Record<'seal' | 'sealActiveSegment', unknown>>;
  for (const name of ['seal', 'sealActiveSegment'] as const) {
    const fn = candidate[name];
    if (typeof fn === 'function') return { seal: async () => { await (fn as () => Promise<unknown>).call(storage); } };
  }
  return undefined;
}
