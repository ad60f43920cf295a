/**
 * PostgreSQL for benchmarks: a throwaway server per trial (through `@handlerton/postgres/testing`,
 * or the one HANDLERTON_PG_URL names), the engine opened through its plugin, raw `pg` clients.
 * No server binaries and no URL make the benchmark "not available" with the reason.
 */
import * as nodeFs from 'node:fs';
import {
  createDatabase,
  silentLogger,
  systemClock,
  type BlobHandlerton,
  type EngineContext,
  type EnginePlugin,
  type Storage,
} from '@handlerton/framework';
import pg from 'pg';
import { UnavailableError } from './context.js';

/** The part of `@handlerton/postgres/testing`'s TestServer the bench uses. */
interface TestServerLike {
  readonly url: string;
  readonly origin: 'env' | 'cluster';
  newSchemaName(prefix?: string): string;
  stop(): Promise<number>;
}

type StartResult = { readonly server: TestServerLike } | { readonly skip: string };

/** A server for one trial: its URL, fresh schema names, the engine's plugin, how it was configured. */
export interface PgBench {
  readonly url: string;
  /** "cluster" (a private throwaway cluster) or "env" (HANDLERTON_PG_URL). */
  readonly origin: 'env' | 'cluster';
  /** Whether commits are durable (fsync=on, synchronous_commit=on) on this server. */
  readonly durable: boolean;
  readonly plugin: EnginePlugin;
  /** A fresh schema name (dropped by the server's stop on a shared server; the cluster is removed whole). */
  schema(prefix: string): string;
}

/** The engine context the bench hands the engine. */
const context: EngineContext = { clock: systemClock, logger: silentLogger, fs: nodeFs };

async function importOrUnavailable(spec: string): Promise<Record<string, unknown>> {
  try {
    return (await import(spec)) as Record<string, unknown>;
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new UnavailableError(`${spec} does not load (not built yet?): ${text.split('\n')[0] ?? text}`);
  }
}

/** Imports the PostgreSQL plugin (before any measurement). */
export async function loadPostgresPlugin(): Promise<EnginePlugin> {
  const mod = await importOrUnavailable('@handlerton/postgres');
  const plugin = (mod['plugin'] ?? mod['default']) as EnginePlugin | undefined;
  if (plugin === undefined || typeof plugin.parseOptions !== 'function') throw new UnavailableError('@handlerton/postgres exports no EnginePlugin');
  return plugin;
}

/** Reads whether the server's commits are durable (fsync and synchronous_commit both on). */
async function isDurableServer(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ f: string; s: string }>(`select current_setting('fsync') as f, current_setting('synchronous_commit') as s`);
    return rows[0]?.f === 'on' && rows[0]?.s !== 'off';
  } finally {
    await client.end();
  }
}

/**
 * Runs `fn` with a server: a private cluster started for this trial (durable: fsync and
 * synchronous_commit on, unless `durable` is false) or HANDLERTON_PG_URL's server as it is configured. The server is stopped afterwards,
 * also when `fn` throws. UnavailableError when there is none.
 */
export async function withPgServer<T>(durable: boolean, fn: (server: PgBench) => Promise<T>): Promise<T> {
  const plugin = await loadPostgresPlugin();
  const testing = await importOrUnavailable('@handlerton/postgres/testing');
  const start = testing['startTestServer'] as ((options: { durable: boolean }) => Promise<StartResult>) | undefined;
  if (start === undefined) throw new UnavailableError('@handlerton/postgres/testing exports no startTestServer');
  const result = await start({ durable });
  if ('skip' in result) throw new UnavailableError(result.skip);
  const server = result.server;
  try {
    const bench: PgBench = {
      url: server.url,
      origin: server.origin,
      durable: await isDurableServer(server.url),
      plugin,
      schema: (prefix) => server.newSchemaName(prefix),
    };
    return await fn(bench);
  } finally {
    await server.stop();
  }
}

/** Opens the engine's Storage in `schema`. */
export async function openPgStorage(server: PgBench, schema: string, extra: Readonly<Record<string, unknown>> = {}): Promise<Storage> {
  const options = server.plugin.parseOptions({ location: server.url, options: { schema, ...extra }, configPath: 'storage' });
  if (server.plugin.createStorage === undefined) throw new UnavailableError('the postgres plugin provides no storage');
  return server.plugin.createStorage(options, context);
}

/** Opens the engine's BlobHandlerton in `schema`. */
export async function openPgBlobs(server: PgBench, schema: string, extra: Readonly<Record<string, unknown>> = {}): Promise<BlobHandlerton> {
  const options = server.plugin.parseOptions({ location: server.url, options: { schema, ...extra }, configPath: 'blobs' });
  if (server.plugin.createBlobHandlerton === undefined) throw new UnavailableError('the postgres plugin provides no blob handlerton');
  return server.plugin.createBlobHandlerton(options, context);
}

/** A Database over the engine's storage and blobs in one schema (`extra`: more storage options). */
export async function openPgDatabase(server: PgBench, schema: string, extra: Readonly<Record<string, unknown>> = {}): Promise<Awaited<ReturnType<typeof createDatabase>>> {
  const storage = await openPgStorage(server, schema, extra);
  const blobs = await openPgBlobs(server, schema);
  return createDatabase({ storage, blobs });
}

/** A connected raw `pg` client (int8 as text, bytea as Buffer: pg's defaults). */
export async function rawClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}
