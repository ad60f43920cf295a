// Blob throughput, memory and event-loop delay against a raw fs stream copy, plus the r+ partial update.
// usage: node scripts/measure-blobs.mjs [MiB=1024] [chunkKiB=256] [partial=1]
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { blobTransaction } from '@handlerton/framework';
import { SqliteBlobs } from '../dist/src/index.js';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 1024);
const chunkSize = Number(process.argv[3] ?? 256) * 1024;
const partial = process.argv[4] !== '0';
const dir = mkdtempSync(join(tmpdir(), 'blobs-measure-'));
const src = join(dir, 'source.bin');

async function phase(label, fn) {
  const h = monitorEventLoopDelay({ resolution: 10 });
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  let peakAt = null;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss > peak) { peak = m.rss; peakAt = m; }
  }, 50);
  h.enable();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  h.disable();
  clearInterval(sampler);
  const r = {
    label,
    ms,
    mibs: sizeMiB / (ms / 1000),
    p99: h.percentile(99) / 1e6 - 10,
    max: h.max / 1e6 - 10,
    rss: (peak - rss0) / MiB,
  };
  console.log(
    `${label.padEnd(34)} ${r.mibs.toFixed(0).padStart(5)} MiB/s  loop p99 ${r.p99.toFixed(1)} ms, worst ${r.max.toFixed(1)} ms (resolution subtracted)  RSS +${r.rss.toFixed(1)} MiB`,
  );
  if (process.env.MEM_DETAIL && peakAt) console.log(`   at peak: heapUsed ${(peakAt.heapUsed / MiB).toFixed(0)} external ${(peakAt.external / MiB).toFixed(0)} arrayBuffers ${(peakAt.arrayBuffers / MiB).toFixed(0)} MiB`);
  return r;
}

// the source file (not measured)
{
  const piece = Buffer.alloc(MiB);
  for (let i = 0; i < piece.length; i++) piece[i] = (i * 7) & 0xff;
  const out = createWriteStream(src);
  for (let i = 0; i < sizeMiB; i++) if (!out.write(piece)) await new Promise((r) => out.once('drain', r));
  await new Promise((r) => out.end(r));
}
await phase('idle (1 s)', () => new Promise((r) => setTimeout(r, 1000)));
const fsCopy = await phase('raw fs stream copy (1 MiB chunks)', () =>
  pipeline(createReadStream(src, { highWaterMark: MiB }), createWriteStream(join(dir, 'copy.bin'), { highWaterMark: MiB })),
);
rmSync(join(dir, 'copy.bin'));

const location = join(dir, 'db.sqlite');
const blobs = await SqliteBlobs.open({ location, synchronous: 'full', chunkSize, busyTimeoutMs: 1000 });
const blobId = await blobs.createBlob();
const write = await phase(`blob write (file -> blob, ${chunkSize / 1024} KiB chunks)`, async () => {
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, null);
  let at = 0;
  for await (const piece of createReadStream(src, { highWaterMark: MiB })) {
    await draft.write(piece, at);
    at += piece.length;
  }
  await blobs.addReferences(txn, [{ handlerton: 'sqlite-blobs', blobId, revision: 1n }]);
  await blobs.prepare(txn, 1n);
  await blobs.commit(txn);
});
const read = await phase('blob read (blob -> file)', async () => {
  const reader = await blobs.openRevision(blobId, 1n);
  const out = createWriteStream(join(dir, 'out.bin'), { highWaterMark: MiB });
  for (let at = 0; at < reader.size; at += MiB) {
    const buf = Buffer.allocUnsafe(Math.min(MiB, reader.size - at));
    await reader.read(buf, at);
    if (!out.write(buf)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
  await reader.close();
});
console.log(`write ${((write.mibs / fsCopy.mibs) * 100).toFixed(0)}% and read ${((read.mibs / fsCopy.mibs) * 100).toFixed(0)}% of the fs copy`);

if (partial) {
  const size = () => statSync(location).size + (existsSync(`${location}-wal`) ? statSync(`${location}-wal`).size : 0);
  const chunks = () => Number(blobs.connection.db.prepare('select count(*) as n from chunk').get().n);
  const c0 = chunks();
  const pages0 = Number(blobs.connection.db.pragma('page_count', { simple: true }));
  const s0 = size();
  const t0 = performance.now();
  const txn = blobTransaction();
  const draft = await blobs.createDraft(txn, blobId, 1n, 1n);
  const t1 = performance.now();
  await draft.write(Buffer.alloc(4096, 0xee), Math.floor(sizeMiB / 2) * MiB + 12345);
  await blobs.addReferences(txn, [{ handlerton: 'sqlite-blobs', blobId, revision: 2n }]);
  const t2 = performance.now();
  await blobs.prepare(txn, 2n);
  const t3 = performance.now();
  await blobs.commit(txn);
  const ms = performance.now() - t0;
  console.log(`  phases: createDraft ${(t1 - t0).toFixed(1)} write ${(t2 - t1).toFixed(1)} prepare ${(t3 - t2).toFixed(1)} commit ${(performance.now() - t3).toFixed(1)} ms`);
  const pages1 = Number(blobs.connection.db.pragma('page_count', { simple: true }));
  console.log(
    `r+ 4 KiB into ${sizeMiB} MiB: createDraft..commit ${ms.toFixed(1)} ms, +${chunks() - c0} chunk row(s), database pages +${pages1 - pages0} (${(((pages1 - pages0) * 65536) / 1024).toFixed(0)} KiB), db+wal files +${((size() - s0) / 1024).toFixed(0)} KiB`,
  );
}
await blobs.close();
rmSync(dir, { recursive: true, force: true });
