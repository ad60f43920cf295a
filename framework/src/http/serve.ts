/**
 * `serveBlobs`: the gateway on its own `node:http` server, with graceful shutdown: `close()` stops
 * accepting connections, closes idle keep-alive connections, lets transfers in flight finish for
 * `graceMs`, then destroys what is left (an upload cut off this way commits nothing). The database
 * stays open: its owner closes it after `close()` resolves.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Database } from '../contracts/database.js';
import { InvalidArgumentError } from '../contracts/errors.js';
import { describeValue } from '../util/validate.js';
import { blobGateway } from './gateway.js';
import type { BlobGatewayOptions } from './options.js';

/** Options of `serveBlobs`: where to listen, plus the gateway's own options. */
export interface ServeBlobsOptions extends BlobGatewayOptions {
  /** TCP port (default 0: a free port the system picks; read it from `port` of the result). */
  readonly port?: number;
  /** Address to listen on (default 127.0.0.1, loopback only). */
  readonly host?: string;
  /** How long `close()` lets transfers in flight finish before cutting them, in ms (default 10000). */
  readonly graceMs?: number;
}

/** A running gateway server. */
export interface BlobServer {
  readonly server: Server;
  /** The port it listens on. */
  readonly port: number;
  /** The base URL, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  /** Stops accepting, finishes (or after graceMs cuts) transfers in flight; resolves when every connection is closed. Idempotent. */
  close(): Promise<void>;
}

/** Starts an HTTP server serving the blobs of `db`; see ServeBlobsOptions. */
export async function serveBlobs(db: Database, options: ServeBlobsOptions = {}): Promise<BlobServer> {
  const { port = 0, host = '127.0.0.1', graceMs = 10_000, ...gatewayOptions } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`options.port must be an integer from 0 to 65535, got ${describeValue(port)}`);
  if (typeof host !== 'string' || host === '') throw new InvalidArgumentError(`options.host must be a non-empty string, got ${describeValue(host)}`);
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new InvalidArgumentError(`options.graceMs must be a non-negative number, got ${describeValue(graceMs)}`);
  const server = createServer(blobGateway(db, gatewayOptions));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    server,
    port: address.port,
    url: `http://${shownHost}:${address.port}`,
    close: () => (closing ??= shutDown(server, graceMs)),
  };
}

async function shutDown(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // A keep-alive connection goes idle when its transfer ends: close those as they appear.
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  server.closeIdleConnections();
  const cut = setTimeout(() => server.closeAllConnections(), graceMs);
  try {
    await closed;
  } finally {
    clearInterval(sweep);
    clearTimeout(cut);
  }
}
