/**
 * Opening a connection has a timeout: pg has none of its own, so a server that accepts the TCP
 * connection and never answers (a stuck server, a proxy whose backend is gone) hung open() forever.
 * No PostgreSQL server needed: a local TCP server that says nothing plays the stuck one.
 */
import test from 'ava';
import * as fs from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { InvalidConfigError, isHandlertonError, silentLogger, systemClock } from '@handlerton/framework';
import { parsePgOptions, plugin } from '../src/index.js';

const context = { clock: systemClock, logger: silentLogger, fs };

test('connectTimeoutMs defaults to 15 s and must be a positive integer', (t) => {
  t.is(parsePgOptions({ location: 'postgresql://h/d', options: {}, configPath: 'storage' }).connectTimeoutMs, 15_000);
  t.is(parsePgOptions({ location: 'postgresql://h/d', options: { connectTimeoutMs: 250 }, configPath: 'storage' }).connectTimeoutMs, 250);
  for (const connectTimeoutMs of [0, -1, 1.5, '1000']) {
    const error = t.throws(() => parsePgOptions({ location: 'postgresql://h/d', options: { connectTimeoutMs }, configPath: 'storage' }), { instanceOf: InvalidConfigError });
    t.regex(error?.message ?? '', /storage\.options\.connectTimeoutMs/);
  }
});

test('storage and blobs opened on a server that accepts and never answers fail with StorageIOError after connectTimeoutMs', async (t) => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as { port: number };
  try {
    const url = `postgresql://nobody@127.0.0.1:${port}/none`;
    for (const open of [
      () => plugin.createStorage!(parsePgOptions({ location: url, options: { connectTimeoutMs: 300 }, configPath: 'storage' }) as never, context),
      () => plugin.createBlobHandlerton!(parsePgOptions({ location: url, options: { connectTimeoutMs: 300 }, configPath: 'blobs' }) as never, context),
    ]) {
      const start = Date.now();
      const error = await t.throwsAsync(Promise.race([open(), new Promise((_, reject) => setTimeout(() => reject(new Error('still waiting after 10 s')), 10_000))]));
      t.true(isHandlertonError(error, 'HANDLERTON_IO'), String(error));
      t.regex(error?.message ?? '', /timeout/i);
      t.true(Date.now() - start < 5_000, `failed after ${Date.now() - start} ms`);
    }
    t.true(sockets.size >= 2, 'the server did accept the connections');
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});
