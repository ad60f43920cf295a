/**
 * The engine (or mixed pair) a fault harness runs against: built from `--engine`, `--blobs`,
 * `--options` and `--blob-options`, it names a JSON-serialisable database config whose files all
 * live under one directory, so a harness can copy, damage or crash that directory as a whole.
 */
import { join } from 'node:path';
import { InvalidArgumentError, loadEnginePlugin, type DatabaseConfigObject } from '@handlerton/framework';

/** What a harness needs to open the engine under test in a directory of its own. */
export interface HarnessTarget {
  /** Shown in summary lines and reports: "filestorage2", or "filestorage2+sqlite" for a mixed pair. */
  readonly label: string;
  /** The storage engine: a built-in name or the name of an installed package exporting a plugin. */
  readonly storageEngine: string;
  /** The blob engine (the storage engine unless a mixed pair). */
  readonly blobEngine: string;
  /** The database config for a fresh or existing directory `dir`: every file of the database lives under it. */
  config(dir: string): DatabaseConfigObject;
}

/** How a target is described on a command line or in code. */
export interface TargetSpec {
  readonly engine: string;
  readonly blobs?: string;
  readonly options?: Readonly<Record<string, unknown>>;
  readonly blobOptions?: Readonly<Record<string, unknown>>;
}

/** The `parseArgs` options every harness CLI accepts for its target. */
export const TARGET_ARGS = {
  engine: { type: 'string' },
  blobs: { type: 'string' },
  options: { type: 'string' },
  'blob-options': { type: 'string' },
} as const;

/** Builds the target of `spec`; InvalidArgumentError for a missing or malformed engine name. */
export function harnessTarget(spec: TargetSpec): HarnessTarget {
  const engine = engineName(spec.engine, 'engine');
  const blobs = spec.blobs === undefined ? undefined : engineName(spec.blobs, 'blobs');
  const options = spec.options ?? {};
  const blobOptions = spec.blobOptions ?? options;
  if (blobs === undefined) {
    return Object.freeze({
      label: engine,
      storageEngine: engine,
      blobEngine: engine,
      config: (dir: string): DatabaseConfigObject => ({ engine, ...located(engine, join(dir, 'data')), options }),
    });
  }
  return Object.freeze({
    label: `${engine}+${blobs}`,
    storageEngine: engine,
    blobEngine: blobs,
    config: (dir: string): DatabaseConfigObject => ({
      storage: { engine, ...located(engine, join(dir, 'records')), options },
      blobs: { engine: blobs, ...located(blobs, join(dir, 'blobs')), options: blobOptions },
    }),
  });
}

/** The target named by parsed `TARGET_ARGS` values; InvalidArgumentError naming the bad flag. */
export function targetFromArgs(values: {
  readonly engine?: string | undefined;
  readonly blobs?: string | undefined;
  readonly options?: string | undefined;
  readonly 'blob-options'?: string | undefined;
}): HarnessTarget {
  if (values.engine === undefined) throw new InvalidArgumentError('--engine is required (a built-in engine name or an installed package)');
  const options = jsonObject(values.options, 'options');
  const blobOptions = jsonObject(values['blob-options'], 'blob-options');
  return harnessTarget({
    engine: values.engine,
    ...(values.blobs !== undefined ? { blobs: values.blobs } : {}),
    ...(options !== undefined ? { options } : {}),
    ...(blobOptions !== undefined ? { blobOptions } : {}),
  });
}

/** Engines that keep no files and refuse a location. */
const IN_MEMORY_ENGINES: ReadonlySet<string> = new Set(['memory']);

function located(engine: string, path: string): { readonly path?: string } {
  return IN_MEMORY_ENGINES.has(engine) ? {} : { path };
}

function engineName(value: string, flag: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.includes(':')) {
    throw new InvalidArgumentError(`--${flag} must be an engine name or package name, got ${JSON.stringify(value)}`);
  }
  return value.trim();
}

function jsonObject(text: string | undefined, flag: string): Readonly<Record<string, unknown>> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`--${flag} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError(`--${flag} must be a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * Checks, before a harness starts, that the target's engines can serve it: the storage engine provides
 * a storage, the blob engine a blob handlerton that keeps its data in files (the harnesses crash, copy
 * and damage a directory). InvalidArgumentError naming the flag to change otherwise.
 */
export async function assertDurableTarget(target: HarnessTarget): Promise<void> {
  const storage = await loadEnginePlugin(target.storageEngine);
  if (storage.createStorage === undefined) throw new InvalidArgumentError(`--engine ${target.storageEngine}: engine "${storage.name}" provides no storage`);
  const blobs = await loadEnginePlugin(target.blobEngine);
  const hint = 'give --blobs a durable blob engine, e.g. --blobs filestorage2';
  if (blobs.createBlobHandlerton === undefined) throw new InvalidArgumentError(`engine "${blobs.name}" provides no blob handlerton: ${hint}`);
  if (blobs.blobCapabilities?.durable === false) throw new InvalidArgumentError(`the blob engine "${blobs.name}" keeps nothing on disk: ${hint}`);
}
