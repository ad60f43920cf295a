/**
 * Database configuration: a URL-like string ("memory:", "filestorage2:./data", "sqlite:./app.db")
 * or an object naming the storage and blob engines separately. Normalised once into a frozen
 * ResolvedConfig; anything unknown or malformed raises InvalidConfigError naming the option.
 */
import type { RecordCodec, RecordCodecName } from '../contracts/database.js';
import { InvalidConfigError } from '../contracts/errors.js';
import type { EnginePlugin } from '../contracts/plugin.js';
import { describeValue } from '../util/validate.js';
import { DEFAULT_RECORD_CACHE_BYTES } from '../database/record-cache.js';
import { resolveCodec } from '../database/record-codecs.js';

/** One engine as config names it. */
export interface EngineSpec {
  /** Engine name ("memory", "filestorage2", "sqlite"), a package name, or a plugin object. */
  readonly engine: string | EnginePlugin;
  /** Directory or file the engine keeps its data in. */
  readonly path?: string;
  /** Engine-specific options, validated by the plugin. */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** The object form of the configuration. */
export interface DatabaseConfigObject<V = Uint8Array> {
  /** Shorthand: one engine for both storage and blobs. */
  readonly engine?: string | EnginePlugin;
  readonly path?: string;
  readonly options?: Readonly<Record<string, unknown>>;
  /** The storage engine ("name:path" string or spec); overrides `engine`. */
  readonly storage?: string | EngineSpec;
  /** The blob handlerton ("name:path" string or spec); defaults to the storage's engine. */
  readonly blobs?: string | EngineSpec;
  /**
   * Secret (at least 16 characters) that signs locators, or a non-empty list of them for rotation: the
   * first signs, every one verifies. Without it a durable engine's per-database key file is used (a random
   * key per open database when the engine keeps none).
   */
  readonly locatorSecret?: string | readonly string[];
  /**
   * Bound of the database's record cache in bytes (committed revisions kept in memory so that reads
   * and writes of recently used objects need no engine read); 0 turns it off. Default 64 MiB.
   */
  readonly recordCacheBytes?: number;
  /**
   * How record values are encoded: `'bytes'` (default: values are Uint8Array), `'json'`, `'v8'`
   * (Node's structured serialization), or an object `{ name, encode, decode }`. See RecordCodec.
   */
  readonly codec?: RecordCodecName | RecordCodec<V>;
}

/** What `openDatabase` accepts. */
export type DatabaseConfig<V = Uint8Array> = string | DatabaseConfigObject<V>;

/** One engine after normalisation. */
export interface ResolvedEngine {
  readonly engine: string | EnginePlugin;
  readonly location: string | undefined;
  readonly options: Readonly<Record<string, unknown>>;
  readonly configPath: string;
  /**
   * True when config gave no location for these blobs and `location` was derived from the storage's
   * (the same location, or `<storage location>.<engine>`). Such a location is a default, not the
   * user's: an engine that keeps nothing at a location (`EnginePlugin.locationless`) is opened without it.
   */
  readonly locationDerived: boolean;
}

/** The normalised configuration. */
export interface ResolvedConfig {
  readonly storage: ResolvedEngine;
  readonly blobs: ResolvedEngine;
  /** The configured locator secrets, signing one first; undefined when none is configured. */
  readonly locatorSecret: readonly string[] | undefined;
  /** The record cache bound in bytes (0: off). */
  readonly recordCacheBytes: number;
  /** The record codec (the bytes codec when config names none). */
  readonly codec: RecordCodec<unknown>;
}

const TOP_LEVEL_KEYS = ['engine', 'path', 'options', 'storage', 'blobs', 'locatorSecret', 'recordCacheBytes', 'codec'];
const SPEC_KEYS = ['engine', 'path', 'options'];

/** Normalises a configuration; InvalidConfigError naming the bad option. */
export function resolveConfig<V>(config: DatabaseConfig<V>): ResolvedConfig {
  if (typeof config === 'string') return resolveConfig({ storage: config });
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new InvalidConfigError('config must be a string like "memory:" or an object', '');
  }
  rejectUnknown(config, TOP_LEVEL_KEYS, '');
  rejectNulls(config, '');
  const storageSource = config.storage ?? (config.engine !== undefined ? { engine: config.engine, path: config.path, options: config.options } : undefined);
  if (storageSource === undefined) throw new InvalidConfigError('config names no engine: set "engine" or "storage"', 'storage');
  if (config.storage !== undefined && (config.engine !== undefined || config.path !== undefined || config.options !== undefined)) {
    throw new InvalidConfigError('give either "engine"/"path"/"options" or "storage", not both', 'engine');
  }
  const storage = resolveEngine(storageSource, 'storage');
  const blobs = config.blobs === undefined ? { ...storage, configPath: 'blobs', locationDerived: storage.location !== undefined } : resolveEngine(config.blobs, 'blobs', storage);
  const locatorSecret = resolveLocatorSecret(config.locatorSecret);
  const recordCacheBytes = resolveCacheBytes(config.recordCacheBytes);
  const codec = resolveCodec(config.codec);
  return Object.freeze({ storage: Object.freeze(storage), blobs: Object.freeze(blobs), locatorSecret, recordCacheBytes, codec });
}

/** The record cache bound: a non-negative safe integer of bytes, DEFAULT_RECORD_CACHE_BYTES when omitted. */
function resolveCacheBytes(value: unknown): number {
  if (value === undefined) return DEFAULT_RECORD_CACHE_BYTES;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidConfigError(`recordCacheBytes must be a non-negative integer of bytes (0 turns the cache off), got ${describeValue(value)}`, 'recordCacheBytes');
  }
  return value;
}

/** The locator secrets as a frozen list; InvalidConfigError naming `locatorSecret` or `locatorSecret[i]`. */
function resolveLocatorSecret(secret: unknown): readonly string[] | undefined {
  if (secret === undefined) return undefined;
  if (typeof secret === 'string') return Object.freeze([checkSecret(secret, 'locatorSecret')]);
  if (!Array.isArray(secret) || secret.length === 0) {
    throw new InvalidConfigError('locatorSecret must be a string of at least 16 characters or a non-empty array of them', 'locatorSecret');
  }
  // Array.from visits holes of a sparse array too (as undefined), which map() would skip.
  return Object.freeze(Array.from(secret as unknown[], (item, i) => checkSecret(item, `locatorSecret[${i}]`)));
}

function checkSecret(secret: unknown, path: string): string {
  if (typeof secret !== 'string' || secret.length < 16) {
    throw new InvalidConfigError(`${path} must be a string of at least 16 characters`, path);
  }
  return secret;
}

/** The name an engine spec refers to (for messages and defaults). */
export function engineName(engine: string | EnginePlugin): string {
  return typeof engine === 'string' ? engine : engine.name;
}

function resolveEngine(source: string | EngineSpec, configPath: string, storage?: ResolvedEngine): ResolvedEngine {
  if (typeof source === 'string') return resolveEngine(parseEngineString(source, configPath), configPath, storage);
  if (typeof source !== 'object' || source === null) throw new InvalidConfigError(`${configPath} must be a string or { engine, path?, options? }`, configPath);
  rejectUnknown(source, SPEC_KEYS, configPath);
  rejectNulls(source, configPath);
  const { engine, path, options } = source;
  if (typeof engine === 'string') assertEngineName(engine, `${configPath}.engine`);
  else if (typeof engine !== 'object' || engine === null || typeof engine.parseOptions !== 'function') {
    throw new InvalidConfigError(`${configPath}.engine must be an engine name or plugin, got ${describeValue(engine)}`, `${configPath}.engine`);
  }
  if (path !== undefined && typeof path !== 'string') throw new InvalidConfigError(`${configPath}.path must be a string, got ${describeValue(path)}`, `${configPath}.path`);
  if (path?.includes('\0')) throw new InvalidConfigError(`${configPath}.path contains a NUL character`, `${configPath}.path`);
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new InvalidConfigError(`${configPath}.options must be an object, got ${describeValue(options)}`, `${configPath}.options`);
  }
  // null never means "the default": an option is given with a value or left out.
  if (options !== undefined) rejectNulls(options, `${configPath}.options`);
  let location = path === '' ? undefined : path;
  let locationDerived = false;
  if (location === undefined && storage !== undefined && storage.location !== undefined) {
    // Blobs without a path: beside the storage, or with it when it is the same engine.
    location = engineName(engine) === engineName(storage.engine) ? storage.location : `${storage.location}.${engineName(engine)}`;
    locationDerived = true;
  }
  return { engine, location, options: Object.freeze({ ...(options ?? {}) }), configPath, locationDerived };
}

function parseEngineString(text: string, configPath: string): EngineSpec {
  const match = /^(@[^/:\s]+\/[^:\s]+|[^:\s]+)(?::(.*))?$/.exec(text.trim());
  if (match === null) throw new InvalidConfigError(`${configPath} ${describeValue(text)} is not of the form "engine:path"`, configPath);
  return { engine: match[1]!, path: match[2] === undefined || match[2] === '' ? undefined : match[2] };
}

/**
 * An engine name is a built-in name or an npm package name (optionally scoped), nothing else:
 * never a path, so config can never import a file as code.
 */
const ENGINE_NAME = /^(?:@[a-z0-9~][a-z0-9._~-]*\/)?[a-z0-9~][a-z0-9._~-]*$/i;
const MAX_ENGINE_NAME = 214;

function assertEngineName(name: string, configPath: string): void {
  if (ENGINE_NAME.test(name) && name.length <= MAX_ENGINE_NAME) return;
  const looksLikePath = /^[./~\\]|^[A-Za-z]:[\\/]|[/\\]/.test(name);
  const hint = looksLikePath
    ? `; it looks like a path: name the engine first, e.g. "filestorage2:${name}" or "sqlite:${name}"`
    : ` (a built-in engine such as "memory", "filestorage2" or "sqlite", or an npm package name)`;
  throw new InvalidConfigError(`${configPath} ${describeValue(name)} is not an engine name${hint}`, configPath);
}

function rejectNulls(value: object, configPath: string): void {
  for (const [key, item] of Object.entries(value)) {
    if (item === null) {
      const where = configPath === '' ? key : `${configPath}.${key}`;
      throw new InvalidConfigError(`config option "${where}" is null: give a value or leave the option out for its default`, where);
    }
  }
}

function rejectUnknown(value: object, allowed: readonly string[], configPath: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      const where = configPath === '' ? key : `${configPath}.${key}`;
      throw new InvalidConfigError(`unknown config option "${where}" (allowed: ${allowed.join(', ')})`, where);
    }
  }
}
