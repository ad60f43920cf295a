/**
 * http.load (issue 17): the HTTP blob gateway under load next to a plain node:http +
 * fs.createReadStream server of the same bytes, in the same trial. Blobs of 1 to 100 MiB are stored
 * once as files and once in the engine; each server runs in its own child process (its event-loop
 * delay and peak RSS are its own); the clients (node:http, keep-alive) run in the worker: `downloaders`
 * loops of GET over the blobs and `uploaders` loops of POST of `uploadMiB` bodies, for `seconds`.
 */
import { openDatabase } from '@handlerton/framework';
import { fork, type ChildProcess } from 'node:child_process';
import { createReadStream, promises as fsp } from 'node:fs';
import { Agent, request } from 'node:http';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Benchmark } from '../harness/context.js';
import { engineLocation, engineName } from '../harness/engines.js';
import { MiB, nowMs, writeRandomFile } from '../harness/io.js';
import type { ServerReport, ServerStart } from './http-server.js';

/** Blob sizes of the download set, in MiB (the ones up to `maxMiB` are used). */
const SIZES_MIB = [1, 2, 5, 10, 20, 40, 70, 100];

/** What one load phase moved. */
interface Moved {
  readonly downloadBytes: number;
  readonly uploadBytes: number;
  readonly errors: number;
}

export const httpLoad: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const seconds = ctx.num('seconds', 15);
  const downloaders = ctx.num('downloaders', 64);
  const uploaders = ctx.num('uploaders', 8);
  const uploadBytes = ctx.num('uploadMiB', 16) * MiB;
  const sizes = SIZES_MIB.filter((s) => s <= ctx.num('maxMiB', 100)).map((s) => s * MiB);
  const files = path.join(ctx.scratch, 'files');
  await fsp.mkdir(files);
  const names = sizes.map((size) => `blob-${size / MiB}.bin`);
  for (const [i, size] of sizes.entries()) await writeRandomFile(path.join(files, names[i]!), size);
  const config = `${engine}:${engineLocation(engine, ctx.scratch)}`;
  const locators = await storeBlobs(config, names.map((n) => path.join(files, n)));
  ctx.markBaseline();
  const plain = await phase({ kind: 'plain', where: files }, names.map((n) => `/files/${n}`), '/files/upload', { seconds, downloaders, uploaders, uploadBytes });
  const gateway = await phase({ kind: 'gateway', where: config }, locators.map((l) => `/blobs/${l}`), '/blobs', { seconds, downloaders, uploaders, uploadBytes });
  const mibps = (bytes: number): number => bytes / MiB / seconds;
  return {
    downloadMiBps: mibps(gateway.moved.downloadBytes),
    plainDownloadMiBps: mibps(plain.moved.downloadBytes),
    uploadMiBps: mibps(gateway.moved.uploadBytes),
    plainUploadMiBps: mibps(plain.moved.uploadBytes),
    errors: gateway.moved.errors,
    loopP99: gateway.report.load.p99,
    idleLoopP99: gateway.report.idle.p99,
    plainLoopP99: plain.report.load.p99,
    peakRssMiB: gateway.report.peakRssMiB,
    plainPeakRssMiB: plain.report.peakRssMiB,
  };
};

/** Stores each file as a blob (streamed, one transaction each); returns their read locators. */
async function storeBlobs(config: string, files: readonly string[]): Promise<string[]> {
  const db = await openDatabase(config);
  try {
    const oids = [];
    for (const file of files) {
      oids.push(
        await db.transaction(async (tx) => {
          const blob = await tx.createBlob();
          const handle = await blob.open('w');
          await pipeline(createReadStream(file, { highWaterMark: MiB }), handle.createWriteStream());
          await handle.close();
          return blob.oid;
        }),
      );
    }
    const snapshot = await db.snapshot();
    try {
      return await Promise.all(oids.map(async (oid) => (await snapshot.blob(oid)).locator().toString()));
    } finally {
      await snapshot.close();
    }
  } finally {
    await db.close();
  }
}

interface Load {
  readonly seconds: number;
  readonly downloaders: number;
  readonly uploaders: number;
  readonly uploadBytes: number;
}

/** Starts a server child, measures its idle loop for 2 s, drives the load, stops it and returns its report. */
async function phase(start: ServerStart, downloads: readonly string[], uploadPath: string, load: Load): Promise<{ moved: Moved; report: ServerReport }> {
  const child = fork(new URL('./http-server.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { port } = await next<{ port: number }>(child, () => child.send(start));
    child.send({ cmd: 'idle' });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    child.send({ cmd: 'load' });
    const moved = await drive(port, downloads, uploadPath, load);
    const report = await next<ServerReport>(child, () => child.send({ cmd: 'stop' }));
    return { moved, report };
  } finally {
    child.kill();
  }
}

/** The child's next message (after `send` asked for it). */
function next<T>(child: ChildProcess, send: () => void): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message as T));
    child.once('exit', (code) => reject(new Error(`http bench server exited ${code}`)));
    send();
  });
}

/** Runs the download and upload loops against 127.0.0.1:`port` until the time is up. */
async function drive(port: number, downloads: readonly string[], uploadPath: string, load: Load): Promise<Moved> {
  const agent = new Agent({ keepAlive: true, maxSockets: load.downloaders + load.uploaders });
  const deadline = nowMs() + load.seconds * 1000;
  const live = new Set<{ destroy(): void }>();
  let downloadBytes = 0;
  let uploadBytes = 0;
  let errors = 0;
  const chunk = Buffer.alloc(MiB, 7);
  const download = (path: string): Promise<void> =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.on('data', (data: Buffer) => (downloadBytes += data.length));
        res.on('end', () => resolve());
        res.on('error', () => resolve());
        if (res.statusCode !== 200) errors += 1;
      });
      live.add(req);
      req.on('error', () => resolve());
      req.on('close', () => (live.delete(req), resolve()));
      req.end();
    });
  const upload = (): Promise<void> =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: uploadPath, method: 'POST', agent, headers: { 'Content-Length': load.uploadBytes } }, (res) => {
        if (res.statusCode !== 201) errors += 1;
        res.resume().on('end', () => resolve());
      });
      live.add(req);
      req.on('error', () => resolve());
      req.on('close', () => (live.delete(req), resolve()));
      let sent = 0;
      const write = (): void => {
        while (sent < load.uploadBytes && nowMs() < deadline) {
          const n = Math.min(chunk.length, load.uploadBytes - sent);
          sent += n;
          const more = req.write(chunk.subarray(0, n), () => (uploadBytes += n));
          if (!more) return void req.once('drain', write);
        }
        if (sent === load.uploadBytes) req.end();
      };
      write();
    });
  const loop = async (i: number, step: (i: number) => Promise<void>): Promise<void> => {
    for (let k = i; nowMs() < deadline; k++) await step(k);
  };
  const timer = setTimeout(() => [...live].forEach((req) => req.destroy()), load.seconds * 1000);
  await Promise.all([
    ...Array.from({ length: load.downloaders }, (_, i) => loop(i, (k) => download(downloads[k % downloads.length]!))),
    ...Array.from({ length: load.uploaders }, (_, i) => loop(i, () => upload())),
  ]);
  clearTimeout(timer);
  agent.destroy();
  return { downloadBytes, uploadBytes, errors };
}
