/** Helpers of the HTTP gateway tests: a database on disk with a gateway server, and small raw clients. */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, serveBlobs, type BlobServer, type Database, type ServeBlobsOptions } from '@handlerton/framework';

/** The engines the gateway is tested on. */
export const GATEWAY_ENGINES = ['filestorage2', 'sqlite'] as const;

/** A database on disk with a gateway in front of it. */
export interface Gateway {
  readonly db: Database;
  readonly server: BlobServer;
  readonly url: string;
  readonly dir: string;
  /** Closes the server and the database and removes the directory. */
  dispose(): Promise<void>;
}

/** Opens a fresh `engine` database in a temporary directory and serves it. */
export async function startGateway(engine: string, options: ServeBlobsOptions = {}): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'handlerton-http-'));
  const db = await openDatabase(`${engine}:${join(dir, engine === 'sqlite' ? 'db.sqlite' : 'db')}`);
  const server = await serveBlobs(db, { graceMs: 2000, ...options });
  return {
    db,
    server,
    url: server.url,
    dir,
    async dispose() {
      await server.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Uploads `body` with POST /blobs; returns the read locator. */
export async function upload(url: string, body: Uint8Array | string): Promise<string> {
  const response = await fetch(`${url}/blobs`, { method: 'POST', body });
  if (response.status !== 201) throw new Error(`upload answered ${response.status}`);
  return ((await response.json()) as { locator: string }).locator;
}

/** Bytes 0..n-1 of a deterministic pattern. */
export function pattern(n: number, seed = 0): Buffer {
  const bytes = Buffer.alloc(n);
  for (let i = 0; i < n; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/** Sends a POST /blobs (or a PUT of `path`) declaring `declared` bytes, writes `sent` of them, then drops the connection. */
export async function abortedUpload(url: string, declared: number, sent: number, path?: string): Promise<void> {
  const { hostname, port } = new URL(url);
  await new Promise<void>((resolve) => {
    const req = request({ hostname, port, path: path ?? '/blobs', method: path === undefined ? 'POST' : 'PUT', headers: { 'Content-Length': declared } });
    req.on('error', () => resolve());
    req.write(pattern(sent), () => setTimeout(() => {
      req.destroy();
      resolve();
    }, 100));
  });
}
