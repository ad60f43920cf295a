/**
 * A throwaway PostgreSQL server for tests: the one named by HANDLERTON_PG_URL, or a private cluster
 * started from the installed server binaries (initdb into a temporary directory, a unix socket in
 * it, no TCP), run as the `postgres` OS user when the tests run as root.
 *
 * The cluster's postmaster runs under a small shell watchdog whose stdin is a pipe from this
 * process: when this process exits for any reason (even SIGKILL) the pipe closes, the watchdog
 * stops the server (fast shutdown) and removes the directory. `stop()` does the same on purpose.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, chownSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** A server the tests may use; `stop()` removes a private cluster (and the schemas made on a shared server). */
export interface TestServer {
  /** A connection string (URL) to a database on the server. */
  readonly url: string;
  /** Where it came from: "env" (HANDLERTON_PG_URL) or "cluster" (a private cluster). */
  readonly origin: 'env' | 'cluster';
  /** Milliseconds it took to start (0 for "env"). */
  readonly startMs: number;
  /** A fresh schema name, unique on this server for this run (the schema is not created). */
  newSchemaName(prefix?: string): string;
  /** Drops `schema` and everything in it; does nothing when it does not exist. */
  dropSchema(schema: string): Promise<void>;
  /** Stops and removes a private cluster; idempotent. Returns how long the stop took (ms). */
  stop(): Promise<number>;
}

/** Either a server, or why there is none (and whether that must fail the tests). */
export type TestServerResult = { readonly server: TestServer } | { readonly skip: string; readonly required: boolean };

const READY_TIMEOUT_MS = 30_000;

/** The newest installed server binary directory (`/usr/lib/postgresql/<major>/bin`), or null. */
export function findServerBinaries(root = '/usr/lib/postgresql'): string | null {
  if (!existsSync(root)) return null;
  const majors = readdirSync(root)
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const bin = join(root, major, 'bin');
    if (['postgres', 'initdb'].every((tool) => existsSync(join(bin, tool)))) return bin;
  }
  return null;
}

/** True when HANDLERTON_PG_REQUIRED asks for a missing server to be a failure. */
export function serverRequired(): boolean {
  const value = process.env['HANDLERTON_PG_REQUIRED'];
  return value !== undefined && value !== '' && value !== '0';
}

/** How a private cluster is started (a HANDLERTON_PG_URL server is used as it is configured). */
export interface TestServerOptions {
  /**
   * Durable commits (fsync, synchronous_commit and full_page_writes on, the server defaults) instead
   * of the speed settings for functional tests; for benchmarks that compare against durable engines.
   */
  readonly durable?: boolean;
}

/** Starts (or finds) a server for tests: HANDLERTON_PG_URL, else a private cluster, else a skip reason. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServerResult> {
  const url = process.env['HANDLERTON_PG_URL'];
  if (url !== undefined && url !== '') return { server: sharedServer(url) };
  const bin = findServerBinaries();
  if (bin === null) {
    return {
      skip: 'no PostgreSQL: HANDLERTON_PG_URL is not set and no server binaries in /usr/lib/postgresql/*/bin',
      required: serverRequired(),
    };
  }
  return { server: await startCluster(bin, options.durable === true) };
}

/** Like startTestServer, but throws when there is no server and HANDLERTON_PG_REQUIRED is set. */
export async function startTestServerOrSkip(): Promise<TestServerResult> {
  const result = await startTestServer();
  if ('skip' in result && result.required) throw new Error(`HANDLERTON_PG_REQUIRED is set but ${result.skip}`);
  return result;
}

let schemaCounter = 0;

function schemaNamer(): (prefix?: string) => string {
  const run = `${process.pid.toString(36)}${Date.now().toString(36).slice(-5)}`;
  return (prefix = 'ht') => `${prefix}_${run}_${(schemaCounter++).toString(36)}`;
}

async function dropSchemaAt(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${pg.escapeIdentifier(schema)} cascade`);
  } finally {
    await client.end();
  }
}

function sharedServer(url: string): TestServer {
  const made = new Set<string>();
  const name = schemaNamer();
  return {
    url,
    origin: 'env',
    startMs: 0,
    newSchemaName(prefix) {
      const schema = name(prefix);
      made.add(schema);
      return schema;
    },
    async dropSchema(schema) {
      await dropSchemaAt(url, schema);
      made.delete(schema);
    },
    async stop() {
      const started = performance.now();
      for (const schema of [...made]) await dropSchemaAt(url, schema).catch(() => undefined);
      made.clear();
      return performance.now() - started;
    },
  };
}

/** Runs a server tool, as the postgres OS user when we are root. */
function asServerUser(command: string, args: readonly string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, [...args]];
  return ['runuser', ['-u', 'postgres', '--', command, ...args]];
}

/** The watchdog: runs the postmaster, waits for its stdin to close, then stops it and removes the directory. */
const WATCHDOG = [
  'postgres="$1"; data="$2"; dir="$3"; shift 3',
  '"$postgres" -D "$data" "$@" >"$dir/log" 2>&1 &',
  'pid=$!',
  'trap "" INT TERM HUP',
  'while read -r _line; do :; done',
  'kill -INT "$pid" 2>/dev/null; wait "$pid"',
  'rm -rf "$dir"',
].join('\n');

async function startCluster(bin: string, durable: boolean): Promise<TestServer> {
  const started = performance.now();
  // Short path: the socket path must stay under the 107-byte sun_path limit.
  const dir = mkdtempSync(join(tmpdir(), 'htpg-'));
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gids = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (ids.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error('tests run as root and there is no "postgres" OS user to run the PostgreSQL server as');
    }
    chownSync(dir, Number(ids.stdout.trim()), Number(gids.stdout.trim()));
  }
  const [initCmd, initArgs] = asServerUser(join(bin, 'initdb'), ['-D', data, '-U', 'test', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const init = spawnSync(initCmd, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${init.stderr || init.stdout}`);
  }
  const port = 20000 + Math.floor(Math.random() * 30000);
  const durability = durable ? 'on' : 'off';
  const serverArgs = [
    '-k', dir, '-p', String(port), '-c', 'listen_addresses=', '-c', `fsync=${durability}`, '-c', `synchronous_commit=${durability}`,
    '-c', `full_page_writes=${durability}`, '-c', 'max_connections=300', '-c', 'max_locks_per_transaction=256',
  ];
  const [cmd, args] = asServerUser('sh', ['-c', WATCHDOG, 'watchdog', join(bin, 'postgres'), data, dir, ...serverArgs]);
  const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'ignore'], detached: false });
  const url = `postgresql://test@/postgres?host=${encodeURIComponent(dir)}&port=${port}`;
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  try {
    await waitReady(url, () => exited);
  } catch (error) {
    child.stdin?.end();
    await exitedPromise;
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const startMs = performance.now() - started;
  const name = schemaNamer();
  let stopping: Promise<number> | undefined;
  return {
    url,
    origin: 'cluster',
    startMs,
    newSchemaName: name,
    dropSchema: (schema) => dropSchemaAt(url, schema),
    stop() {
      stopping ??= stopWatchdog(child, exitedPromise, dir);
      return stopping;
    },
  };
}

async function stopWatchdog(child: ChildProcess, exited: Promise<void>, dir: string): Promise<number> {
  const started = performance.now();
  // Keep this process alive until the server is gone (the child was unref'd while idle).
  child.ref();
  child.stdin?.end();
  await exited;
  rmSync(dir, { recursive: true, force: true });
  return performance.now() - started;
}

async function waitReady(url: string, hasExited: () => boolean): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  let last: unknown;
  while (performance.now() < deadline) {
    if (hasExited()) throw new Error('the PostgreSQL test server exited while starting (see its log)');
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      return;
    } catch (error) {
      last = error;
      await client.end().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`the PostgreSQL test server did not accept connections within ${READY_TIMEOUT_MS} ms: ${String(last)}`);
}
