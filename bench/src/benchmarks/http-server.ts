/**
 * Child process of the http.load benchmark: either the handlerton gateway (`serveBlobs` over a
 * database) or the plain reference (node:http + fs.createReadStream of the same files, uploads piped
 * to files). It measures its own event-loop delay (idle, then under load) and peak RSS, so the
 * figures are the server's, not the clients'.
 */
import { openDatabase, serveBlobs } from '@handlerton/framework';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { watchEventLoop, type LoopDelay } from '../harness/loop.js';

/** The first message from the parent. */
export interface ServerStart {
  readonly kind: 'gateway' | 'plain';
  /** Database config (gateway) or directory of the files (plain). */
  readonly where: string;
}

/** What the child reports when told to stop. */
export interface ServerReport {
  readonly idle: LoopDelay;
  readonly load: LoopDelay;
  readonly peakRssMiB: number;
}

type Message = { readonly cmd: 'idle' | 'load' | 'stop' };

async function plainServer(dir: string): Promise<{ server: Server; close(): Promise<void> }> {
  let uploads = 0;
  const server = createServer((req, res) => {
    const name = (req.url ?? '').slice('/files/'.length);
    if (req.method === 'POST') {
      const file = path.join(dir, `upload-${process.pid}-${uploads++}.bin`);
      pipeline(req, createWriteStream(file)).then(
        () => res.writeHead(201).end('{}'),
        () => res.destroy(),
      );
      return;
    }
    if (!/^[a-z0-9-]+\.bin$/.test(name)) return void res.writeHead(404).end();
    const file = path.join(dir, name);
    res.writeHead(200, { 'Content-Length': statSync(file).size, 'Content-Type': 'application/octet-stream' });
    pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), res).catch(() => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function main(): Promise<void> {
  const start = await new Promise<ServerStart>((resolve) => process.once('message', (m) => resolve(m as ServerStart)));
  let port: number;
  let close: () => Promise<void>;
  if (start.kind === 'plain') {
    const plain = await plainServer(start.where);
    port = (plain.server.address() as AddressInfo).port;
    close = plain.close;
  } else {
    const db = await openDatabase(start.where);
    const served = await serveBlobs(db, { graceMs: 0, maxUploadBytes: 1024 ** 3 });
    port = served.port;
    close = async () => {
      await served.close();
      await db.close();
    };
  }
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  let stopLoop: (() => LoopDelay) | undefined;
  let idle: LoopDelay | undefined;
  process.on('message', (message: Message) => {
    if (message.cmd === 'idle') {
      stopLoop = watchEventLoop();
    } else if (message.cmd === 'load') {
      idle = stopLoop?.();
      stopLoop = watchEventLoop();
      peak = process.memoryUsage.rss();
    } else {
      const load = stopLoop!();
      clearInterval(sampler);
      const report: ServerReport = { idle: idle!, load, peakRssMiB: Math.max(peak, process.memoryUsage.rss()) / (1024 * 1024) };
      void close().finally(() => process.send!(report, () => process.exit(0)));
    }
  });
  process.send!({ port });
}

main().catch((error: unknown) => {
  process.stderr.write(`http bench server failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
