/**
 * The HTTP blob gateway under streaming conditions: 64 MiB through with bounded memory and a slow
 * client, graceful shutdown with transfers in flight, curl as the client, and `handlerton serve`.
 */
import test from 'ava';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { bin } from './cli-run.js';
import { abortedUpload, GATEWAY_ENGINES, pattern, startGateway, upload } from './http-harness.js';

const MiB = 1024 * 1024;

/** A ReadableStream of `chunks` chunks of 1 MiB (generated one at a time). */
function generated(chunks: number): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i === chunks) controller.close();
      else controller.enqueue(pattern(MiB, i++));
    },
  });
}

/** Runs a full garbage collection (RSS figures are then about live memory, not garbage not yet collected). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Samples RSS every 10 ms until stopped; returns the peak. */
function rssSampler(): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  return { stop: () => (clearInterval(timer), Math.max(peak, process.memoryUsage.rss())) };
}

/** Opens a GET of `url` and resolves with the response, paused. */
function openGet(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      res.pause();
      resolve(res);
    });
    req.on('error', reject);
  });
}

/** Reads the rest of `res`; resolves with the byte count and whether it ended cleanly. */
function drain(res: IncomingMessage): Promise<{ bytes: number; complete: boolean }> {
  return new Promise((resolve) => {
    let bytes = 0;
    res.on('data', (chunk: Buffer) => (bytes += chunk.length));
    res.on('end', () => resolve({ bytes, complete: res.complete }));
    res.on('error', () => resolve({ bytes, complete: false }));
    res.on('close', () => resolve({ bytes, complete: res.complete }));
    res.resume();
  });
}

for (const engine of GATEWAY_ENGINES) {
  test.serial(`${engine}: 64 MiB up, then down to a slow reader, without memory growing with the blob`, async (t) => {
    const g = await startGateway(engine, { chunkBytes: 64 * 1024 });
    try {
      const response = await fetch(`${g.url}/blobs`, { method: 'POST', body: generated(64), duplex: 'half' } as RequestInit);
      t.is(response.status, 201);
      const { locator, size } = (await response.json()) as { locator: string; size: number };
      t.is(size, 64 * MiB);
      collectGarbage();
      const baseline = process.memoryUsage.rss();
      const sampler = rssSampler();
      const res = await openGet(`${g.url}/blobs/${locator}`);
      t.is(res.headers['content-length'], String(64 * MiB));
      // The client holds off for a while: the server must wait, not buffer the blob.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of res) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
      }
      const peak = sampler.stop();
      t.is(bytes, 64 * MiB);
      const expected = createHash('sha256');
      for (let i = 0; i < 64; i++) expected.update(pattern(MiB, i));
      t.is(hash.digest('hex'), expected.digest('hex'));
      const growth = (peak - baseline) / MiB;
      t.log(`RSS baseline ${(baseline / MiB).toFixed(0)} MiB, peak growth ${growth.toFixed(1)} MiB`);
      t.true(growth < 48, `RSS grew ${growth.toFixed(1)} MiB sending 64 MiB`);
    } finally {
      await g.dispose();
    }
  });

  test.serial(`${engine}: graceful shutdown lets a download in flight finish and refuses new connections`, async (t) => {
    const g = await startGateway(engine, { chunkBytes: 64 * 1024, graceMs: 10_000 });
    try {
      const locator = await upload(g.url, pattern(8 * MiB));
      const res = await openGet(`${g.url}/blobs/${locator}`);
      let closed = false;
      const closing = g.server.close().then(() => (closed = true));
      await new Promise((resolve) => setTimeout(resolve, 200));
      t.false(closed, 'close waits for the transfer');
      await t.throwsAsync(fetch(`${g.url}/blobs/${locator}`), undefined, 'no new connection is accepted');
      const result = await drain(res);
      t.deepEqual(result, { bytes: 8 * MiB, complete: true });
      await closing;
      t.true(closed);
    } finally {
      await g.dispose();
    }
  });

  test.serial(`${engine}: past the grace period, shutdown cuts transfers; a cut upload commits nothing`, async (t) => {
    const g = await startGateway(engine, { chunkBytes: 64 * 1024, graceMs: 200 });
    try {
      const locator = await upload(g.url, pattern(8 * MiB));
      const before = g.db.lastTransaction();
      const res = await openGet(`${g.url}/blobs/${locator}`);
      const uploading = abortedUpload(g.url, 4 * MiB, 1 * MiB).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = Date.now();
      await g.server.close();
      t.true(Date.now() - started < 5000, 'close does not wait past the grace period');
      const result = await drain(res);
      t.false(result.complete, 'the download was cut');
      await uploading;
      t.is(g.db.lastTransaction(), before, 'the cut upload committed nothing');
    } finally {
      await g.dispose();
    }
  });
}

/** Runs curl without blocking the event loop (the server under test runs in this process). */
async function runCurl(args: readonly string[]): Promise<{ stdout: string; bytes: Buffer; code: number }> {
  try {
    const { stdout } = await promisify(execFile)('curl', args, { encoding: 'buffer', maxBuffer: 16 * MiB });
    return { stdout: stdout.toString('latin1'), bytes: stdout, code: 0 };
  } catch (error) {
    return { stdout: '', bytes: Buffer.alloc(0), code: (error as { code?: number }).code ?? -1 };
  }
}

const curl = spawnSync('curl', ['--version']).status === 0;
(curl ? test : test.skip)('curl: upload, range, HEAD and 304 through the gateway', async (t) => {
  const g = await startGateway('sqlite');
  try {
    const file = join(g.dir, 'upload.bin');
    writeFileSync(file, pattern(5000, 3));
    const posted = await runCurl(['-sS', '--data-binary', `@${file}`, '-H', 'Content-Type: application/octet-stream', `${g.url}/blobs`]);
    t.is(posted.code, 0);
    const { locator } = JSON.parse(posted.stdout) as { locator: string };
    const ranged = await runCurl(['-sS', '-r', '4990-', '-D', '-', '-o', join(g.dir, 'part'), `${g.url}/blobs/${locator}`]);
    t.regex(ranged.stdout, /^HTTP\/1\.1 206/);
    t.regex(ranged.stdout, /content-range: bytes 4990-4999\/5000/i);
    const body = await runCurl(['-sS', '-r', '4990-', `${g.url}/blobs/${locator}`]);
    t.deepEqual(body.bytes, pattern(5000, 3).subarray(4990));
    const head = await runCurl(['-sS', '-I', `${g.url}/blobs/${locator}`]);
    t.regex(head.stdout, /content-length: 5000/i);
    const etag = /etag: (.*)\r/i.exec(head.stdout)![1]!;
    const conditional = await runCurl(['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', `If-None-Match: ${etag}`, `${g.url}/blobs/${locator}`]);
    t.is(conditional.stdout, '304');
    const unsatisfiable = await runCurl(['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-r', '5000-', `${g.url}/blobs/${locator}`]);
    t.is(unsatisfiable.stdout, '416');
  } finally {
    await g.dispose();
  }
});

test('handlerton serve: serves a database until SIGTERM, then exits 0', async (t) => {
  const g = await startGateway('sqlite');
  const locator = await upload(g.url, 'served by the CLI');
  await g.server.close();
  await g.db.close();
  const child = spawn(process.execPath, [bin, '--json', 'serve', `sqlite:${join(g.dir, 'db.sqlite')}`, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        try {
          resolve((JSON.parse(out) as { url: string }).url);
        } catch {
          // not the whole document yet
        }
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    t.is(await (await fetch(`${url}/blobs/${locator}`)).text(), 'served by the CLI');
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    t.is(await exited, 0);
  } finally {
    child.kill('SIGKILL');
    await g.dispose().catch(() => undefined);
  }
});
