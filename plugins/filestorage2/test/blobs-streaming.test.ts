import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { blobTransaction, silentLogger, systemClock } from '@handlerton/framework';
import type { EngineContext } from '@handlerton/framework';
import { FileStorage2Blobs } from '../src/blobs/index.js';

const MiB = 1024 * 1024;
const TOTAL = 64 * MiB;
const context: EngineContext = { clock: systemClock, logger: silentLogger, fs };

/** Samples RSS every 10 ms; `stop` returns the peak growth over the starting value. */
function watchRss(): { stop: () => number } {
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss);
      return peak - start;
    },
  };
}

function fill(buffer: Uint8Array, chunkIndex: number): void {
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  for (let i = 0; i < buffer.length; i += 4096) view.setUint32(i, chunkIndex * 1000 + i / 4096);
}

test('a 64 MiB blob streams in and out with bounded memory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fs2-blobs-s-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = await FileStorage2Blobs.open({ dir, syncMode: 'always' }, context);
  t.teardown(() => store.close());
  const blobId = await store.createBlob();
  const buffer = new Uint8Array(MiB);

  const writing = watchRss();
  let started = performance.now();
  const txn = blobTransaction();
  const draft = await store.createDraft(txn, blobId, 1n, null);
  for (let at = 0; at < TOTAL; at += MiB) {
    fill(buffer, at / MiB);
    await draft.write(buffer, at);
  }
  await store.prepare(txn, 100n);
  await store.commit(txn);
  const writeMs = performance.now() - started;
  const writeGrowth = writing.stop();

  const reading = watchRss();
  started = performance.now();
  const reader = await store.openRevision(blobId, 100n);
  t.is(reader.size, TOTAL);
  const expected = new Uint8Array(MiB);
  let mismatches = 0;
  for (let at = 0; at < TOTAL; at += MiB) {
    t.is(await reader.read(buffer, at), MiB);
    fill(expected, at / MiB);
    if (Buffer.compare(buffer, expected) !== 0) mismatches += 1;
  }
  await reader.close();
  const readMs = performance.now() - started;
  const readGrowth = reading.stop();

  t.is(mismatches, 0);
  t.log(`write 64 MiB (fdatasync at prepare): ${writeMs.toFixed(0)} ms, ${(64 / (writeMs / 1000)).toFixed(0)} MiB/s, RSS +${(writeGrowth / MiB).toFixed(1)} MiB`);
  t.log(`read 64 MiB: ${readMs.toFixed(0)} ms, ${(64 / (readMs / 1000)).toFixed(0)} MiB/s, RSS +${(readGrowth / MiB).toFixed(1)} MiB`);
  t.true(writeGrowth < 32 * MiB, 'writing does not hold the blob in memory');
  t.true(readGrowth < 32 * MiB, 'reading does not hold the blob in memory');
});
