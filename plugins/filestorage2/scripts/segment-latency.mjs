// Median durable commit latency per segment (100 x 200 B per transaction, one committer): shows the
// first segment (space extended by ftruncate) against the segments zero-filled ahead of time.
// Usage: node scripts/segment-latency.mjs [seconds=4] [segmentSize=16777216]
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStorage2 } from '../dist/src/storage/filestorage2.js';
import { parseFileStorage2Options } from '../dist/src/filestorage2-config.js';

const seconds = Number(process.argv[2] ?? 4);
const segmentSize = Number(process.argv[3] ?? 16 * 1024 * 1024);
const ctx = { clock: { now: () => Date.now() }, logger: { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } }, fs };
const dir = mkdtempSync(join(tmpdir(), 'fs2-seglat-'));
const s = await FileStorage2.open(parseFileStorage2Options(dir, { syncMode: 'always', segmentSize }), ctx);
const data = Buffer.alloc(200, 97);
const NO_REFS = { oids: [], blobs: [] };
const bySegment = new Map();
const t0 = performance.now();
while (performance.now() - t0 < seconds * 1000) {
  const oids = [];
  for (let i = 0; i < 100; i++) oids.push(await s.newOid());
  const t = performance.now();
  const txn = { meta: { user: '', description: '', extension: {} } };
  await s.tpcBegin(txn);
  for (const oid of oids) await s.store(oid, 0n, { data, refs: NO_REFS }, txn);
  await s.tpcVote(txn);
  await s.tpcFinish(txn);
  const k = s.sealedSegmentCount;
  if (!bySegment.has(k)) bySegment.set(k, []);
  bySegment.get(k).push(performance.now() - t);
}
await s.close();
rmSync(dir, { recursive: true, force: true });
for (const [k, lat] of bySegment) {
  lat.sort((a, b) => a - b);
  console.log(`segment ${k + 1}${k === 0 ? ' (ftruncate)' : ' (prepared)'}: ${lat.length} commits, median ${(lat[lat.length >> 1] * 1000).toFixed(0)} us`);
}
