import test from 'ava';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { blobTransaction } from '@handlerton/framework';
import { openBlobs } from './helpers.js';

const MiB = 1024 * 1024;

test('streaming a 64 MiB blob in and out keeps the event loop responsive (reported, not asserted)', async (t) => {
  const { blobs } = await openBlobs(t, { chunkSize: 256 * 1024 });
  const size = 64 * MiB;
  const piece = new Uint8Array(64 * 1024);
  for (let i = 0; i < piece.length; i++) piece[i] = i & 0xff;

  const idle = monitorEventLoopDelay({ resolution: 1 });
  idle.enable();
  await new Promise((r) => setTimeout(r, 300));
  idle.disable();

  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const blobId = await blobs.createBlob();
  const txn = blobTransaction();
  const w0 = performance.now();
  const draft = await blobs.createDraft(txn, blobId, 1n, null);
  for (let at = 0; at < size; at += piece.length) await draft.write(piece, at);
  await blobs.prepare(txn, 1n);
  await blobs.commit(txn);
  const writeMs = performance.now() - w0;
  const r0 = performance.now();
  const reader = await blobs.openRevision(blobId, 1n);
  const target = new Uint8Array(64 * 1024);
  let total = 0;
  let ok = true;
  for (let at = 0; at < size; at += target.length) {
    total += await reader.read(target, at);
    if (target[1] !== 1 || target[65535] !== 255) ok = false;
  }
  await reader.close();
  const readMs = performance.now() - r0;
  h.disable();
  clearInterval(sampler);
  t.is(total, size);
  t.true(ok);
  const ms = (ns: number): string => (ns / 1e6).toFixed(1);
  t.log(`idle loop delay p50 ${ms(idle.percentile(50))} p99 ${ms(idle.percentile(99))} max ${ms(idle.max)} ms`);
  t.log(`64 MiB write ${(64 / (writeMs / 1000)).toFixed(0)} MiB/s, read ${(64 / (readMs / 1000)).toFixed(0)} MiB/s`);
  t.log(`loop delay while streaming: p50 ${ms(h.percentile(50))} p99 ${ms(h.percentile(99))} max ${ms(h.max)} ms`);
  t.log(`peak RSS growth ${((peak - rss0) / MiB).toFixed(1)} MiB`);
});
