/**
 * The database argument of a CLI command: "engine:path", a JSON config object, or a bare path to an
 * existing FileStorage2 directory or SQLite file. Inspecting commands require the database to exist
 * and open FileStorage2 and SQLite storage and blobs read-only, so they never create or change a
 * database and can inspect one another process holds open.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { DatabaseNotFoundError, InvalidConfigError } from '../contracts/errors.js';
import { engineName, resolveConfig, type DatabaseConfig, type DatabaseConfigObject, type EngineSpec, type ResolvedEngine } from '../config/database-config.js';

const SQLITE_MAGIC = 'SQLite format 3\0';
const FS2_SEGMENT = /^seg-[0-9a-f]{16}-g[0-9]+\.fs2$/;
/** Engines whose location is a path on disk that must exist before an inspecting command opens it. */
const ON_DISK = new Set(['filestorage2', 'sqlite', 'sqlite-blobs', '@handlerton/filestorage2', '@handlerton/sqlite-blobs']);
/** Engines with a `readOnly` option (storage and blobs): every on-disk engine. */
const READ_ONLY_ENGINES = ON_DISK;

/** True when the engine keeps its database at a path on disk (its location is a file or directory). */
export function isOnDiskEngine(name: string): boolean {
  return ON_DISK.has(name);
}

/** Parses a CLI database argument into a config (a bare path is detected from what is on disk). */
export function parseTarget(text: string): DatabaseConfig {
  if (text.trimStart().startsWith('{')) {
    try {
      return JSON.parse(text) as DatabaseConfig;
    } catch (error) {
      throw new InvalidConfigError(`config "${text}" is neither "engine:path" nor valid JSON`, '', { cause: error });
    }
  }
  return looksLikePath(text) ? detectEngine(text) : text;
}

/** A config for inspecting: the database must exist; FileStorage2 and SQLite storage and blobs open read-only. */
export function inspectTarget(config: DatabaseConfig): DatabaseConfig {
  const resolved = resolveConfig(config);
  assertExists(resolved.storage, 'storage');
  assertExists(resolved.blobs, 'blobs');
  const object: DatabaseConfigObject = {
    storage: readOnlySpec(resolved.storage),
    blobs: readOnlySpec(resolved.blobs),
    recordCacheBytes: resolved.recordCacheBytes,
    ...(resolved.locatorSecret === undefined ? {} : { locatorSecret: resolved.locatorSecret }),
  };
  return object;
}

/** The engine spec with `readOnly` added where the engine knows it (FileStorage2, SQLite; others reject unknown options). */
function readOnlySpec(engine: ResolvedEngine): EngineSpec {
  const options = READ_ONLY_ENGINES.has(engineName(engine.engine)) ? { ...engine.options, readOnly: true } : engine.options;
  // A location the framework derived is left out: resolving the new config derives it again, or none for an engine that keeps nothing at one.
  return { engine: engine.engine, ...(engine.location === undefined || engine.locationDerived ? {} : { path: engine.location }), options };
}

/** SQLite engine names: their blob role keeps its file at `<location>-blobs`. */
const SQLITE = new Set(['sqlite', 'sqlite-blobs', '@handlerton/sqlite-blobs']);

function assertExists(engine: ResolvedEngine, role: 'storage' | 'blobs'): void {
  const name = engineName(engine.engine);
  if (!ON_DISK.has(name) || engine.location === undefined) return;
  // A SQLite location names two files; the blob role opens only `<location>-blobs` (README, engines table).
  const present = existsSync(engine.location) || (role === 'blobs' && SQLITE.has(name) && existsSync(`${engine.location}-blobs`));
  if (!present) {
    throw new DatabaseNotFoundError(`${engine.configPath}: no ${name} database at ${engine.location} (check the path; inspecting commands never create one)`);
  }
}

/** True when `text` names a file system path rather than "engine:path". */
function looksLikePath(text: string): boolean {
  if (text.includes(':')) return false;
  return text.includes('/') || text.includes('\\') || text.startsWith('.') || text.startsWith('~') || existsSync(text);
}

/** The engine config for an existing database at `path`, or a typed error with a hint. */
function detectEngine(path: string): string {
  const hint = `write the engine explicitly, e.g. "filestorage2:${path}" or "sqlite:${path}"`;
  if (!existsSync(path)) throw new DatabaseNotFoundError(`no database at ${path}: ${hint}`);
  const stat = statSync(path);
  if (stat.isDirectory()) {
    if (readdirSync(path).some((name) => FS2_SEGMENT.test(name))) return `filestorage2:${path}`;
    throw new InvalidConfigError(`${path} is a directory without FileStorage2 segments: ${hint}`, 'storage');
  }
  if (stat.isFile() && startsWithSqliteMagic(path)) return `sqlite:${path}`;
  throw new InvalidConfigError(`${path} is neither a FileStorage2 directory nor a SQLite file: ${hint}`, 'storage');
}

function startsWithSqliteMagic(path: string): boolean {
  const head = Buffer.alloc(SQLITE_MAGIC.length);
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, head, 0, head.length, 0) === head.length && head.toString('latin1') === SQLITE_MAGIC;
  } finally {
    closeSync(fd);
  }
}
