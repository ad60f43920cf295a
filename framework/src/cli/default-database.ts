/**
 * The database a command works on when its <db> argument may be left out: the argument, else
 * HANDLERTON_DB, else a config file (the file HANDLERTON_CONFIG names, else ./handlerton.json)
 * holding a database config object, the one openDatabase takes. Relative paths of on-disk engines in
 * the file are relative to the file's directory. A broken file is a usage error naming the file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { engineName, resolveConfig, type DatabaseConfig, type DatabaseConfigObject, type EngineSpec, type ResolvedEngine } from '../config/database-config.js';
import { DatabaseNotFoundError, InvalidArgumentError, InvalidConfigError, isHandlertonError } from '../contracts/errors.js';
import { openDatabase } from '../di/open-database.js';
import { inspectTarget, isOnDiskEngine, parseTarget } from './target.js';

/** A database as openDatabase returns it (with its storage and blob engines). */
export type OpenedDatabase = Awaited<ReturnType<typeof openDatabase>>;

/** The config file looked for in the current directory when HANDLERTON_CONFIG names none. */
export const CONFIG_FILE = 'handlerton.json';

/** A database a command names, and where it was named. */
export interface NamedDatabase {
  readonly config: DatabaseConfig;
  /** The config file it came from (absolute), when it came from one. */
  readonly file?: string;
}

/** The database a command names: `named`, else HANDLERTON_DB, else the config file; InvalidArgumentError when none. */
export function namedDatabase(named: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): NamedDatabase {
  if (named !== undefined) return { config: parseTarget(named) };
  const fromEnv = env['HANDLERTON_DB'];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return { config: parseTarget(fromEnv) };
  const chosen = env['HANDLERTON_CONFIG'];
  if (chosen !== undefined && chosen.trim() !== '') {
    const file = resolve(cwd, chosen);
    if (!existsSync(file)) throw new InvalidConfigError(`HANDLERTON_CONFIG names ${file}, which does not exist`, 'HANDLERTON_CONFIG');
    return { config: readConfigFile(file), file };
  }
  const file = resolve(cwd, CONFIG_FILE);
  if (existsSync(file)) return { config: readConfigFile(file), file };
  throw new InvalidArgumentError(
    `no database given: name one (engine:path, a JSON config or the path of an existing database), write a ${CONFIG_FILE} (or name a config file in HANDLERTON_CONFIG) or set HANDLERTON_DB`,
  );
}

/** Reads and checks a config file: a JSON database config object, with relative on-disk paths made absolute. */
export function readConfigFile(file: string): DatabaseConfigObject {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InvalidConfigError(`${file}: not a readable JSON file: ${(error as Error).message}`, '', { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidConfigError(`${file}: must hold a database config object, e.g. {"storage": "filestorage2:./data"}`, '');
  }
  try {
    const resolved = resolveConfig(value as DatabaseConfigObject);
    const base = dirname(file);
    return {
      storage: absoluteSpec(resolved.storage, base),
      blobs: absoluteSpec(resolved.blobs, base),
      recordCacheBytes: resolved.recordCacheBytes,
      ...(resolved.locatorSecret === undefined ? {} : { locatorSecret: resolved.locatorSecret }),
    };
  } catch (error) {
    throw inFile(error, file);
  }
}

function absoluteSpec(engine: ResolvedEngine, base: string): EngineSpec {
  const local = isOnDiskEngine(engineName(engine.engine)) && engine.location !== undefined && !isAbsolute(engine.location);
  const location = local ? resolve(base, engine.location!) : engine.location;
  return { engine: engine.engine, ...(location === undefined ? {} : { path: location }), options: engine.options };
}

/** A config error raised for a database from `file`, with the file and field named; other errors unchanged. */
function inFile(error: unknown, file: string): unknown {
  if (isHandlertonError(error, 'HANDLERTON_INVALID_CONFIG') || isHandlertonError(error, 'HANDLERTON_UNKNOWN_ENGINE')) {
    const option = (error as InvalidConfigError).option;
    const field = option === undefined || option === '' || error.message.startsWith(option) ? '' : `field "${option}": `;
    return new InvalidConfigError(`${file}: ${field}${error.message}`, option, { cause: error });
  }
  if (isHandlertonError(error, 'HANDLERTON_NOT_FOUND')) return new DatabaseNotFoundError(`${file}: ${error.message}`, { cause: error });
  return error;
}

/** Opens the database a command names (see namedDatabase): read-only and existing for 'inspect', as configured for 'write'. */
export async function openNamedDatabase(named: string | undefined, mode: 'inspect' | 'write'): Promise<{ db: OpenedDatabase; config: DatabaseConfig }> {
  const { config: chosen, file } = namedDatabase(named);
  try {
    const config = mode === 'inspect' ? inspectTarget(chosen) : chosen;
    return { db: await openDatabase(config), config };
  } catch (error) {
    throw file === undefined ? error : inFile(error, file);
  }
}
