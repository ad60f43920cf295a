/** Connection pools: int8 values come back as bigint, errors map to the framework's typed errors. */
import pg from 'pg';
import { ConflictError, StorageIOError, StorageLockedError } from '@handlerton/framework';

const INT8_OID = 20;

/** Type parsers: int8 as bigint (oids and tids are 64-bit); everything else as pg's defaults. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => BigInt(value);
    return pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
  },
};

/**
 * Opens a pool of at most `size` connections to `url`; opening one connection fails after
 * `connectTimeoutMs` (set on each client, not on the pool, whose option would also time out
 * queries waiting for a busy pool's connection).
 */
export function openPool(url: string, size: number, connectTimeoutMs: number): pg.Pool {
  class TimedClient extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super({ ...config, connectionTimeoutMillis: connectTimeoutMs });
    }
  }
  const pool = new pg.Pool({ connectionString: url, max: size, idleTimeoutMillis: 10_000, types: types as unknown as pg.CustomTypesConfig, Client: TimedClient });
  // An idle client's connection error (server restart) must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  return pool;
}

/** The SQLSTATE of a PostgreSQL error, if it is one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Wraps a driver error in a typed framework error (lock timeouts and deadlocks as StorageLockedError). */
export function wrapPgError(error: unknown, what: string): Error {
  if (error instanceof ConflictError) return error;
  if ((error as { code?: unknown } | null)?.code !== undefined && String((error as { code: unknown }).code).startsWith('HANDLERTON_')) return error as Error;
  const state = sqlState(error);
  if (state === '55P03' || state === '40P01') {
    return new StorageLockedError(`${what}: another client holds the lock (${state}: ${String((error as Error).message)})`, { cause: error });
  }
  return new StorageIOError(`${what}: ${String((error as Error | null)?.message ?? error)}`, { cause: error });
}
