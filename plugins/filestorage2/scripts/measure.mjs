// FileStorage2 figures on this machine. Usage:
//   node scripts/measure.mjs build <dir> [objects=1000000] [segments=10]
//   node --expose-gc scripts/measure.mjs open <dir>           (run in a fresh process)
//   node scripts/measure.mjs load <dir> [lookups=100000]       (random load, plus classic-level on the same keys)
//   node scripts/measure.mjs commit <dir> [txns=300]           (durable commit rate vs raw fdatasync, 1 and 32 committers)
import * as fs from 'node:fs';
import { join } from 'node:path';
import { FileStorage2 } from '../dist/src/storage/filestorage2.js';
import { parseFileStorage2Options } from '../dist/src/filestorage2-config.js';

const ctx = { clock: { now: () => Date.now() }, logger: { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } }, fs };
const NO_REFS = { oids: [], blobs: [] };
const txnOf = (description = '') => ({ meta: { user: '', description, extension: {} } });
const [mode, dir, a, b] = process.argv.slice(2);
const open = (options = {}) => FileStorage2.open(parseFileStorage2Options(dir, options), ctx);
const mib = (n) => +(n / 1048576).toFixed(1);

async function commitBatch(s, oids, size, serials) {
  const txn = txnOf();
  await s.tpcBegin(txn);
  const data = Buffer.alloc(size, 97);
  for (const oid of oids) await s.store(oid, serials?.get(oid) ?? 0n, { data, refs: NO_REFS }, txn);
  await s.tpcVote(txn);
  const tid = await s.tpcFinish(txn);
  if (serials) for (const oid of oids) serials.set(oid, tid);
  return tid;
}

if (mode === 'build') {
  const objects = Number(a ?? 1_000_000);
  const segments = Number(b ?? 10);
  fs.rmSync(dir, { recursive: true, force: true });
  const s = await open({ syncMode: 'none', segmentSize: 2 ** 40 });
  const perTxn = 1000;
  const perSeg = Math.ceil(objects / segments);
  const t0 = performance.now();
  for (let base = 0; base < objects; base += perTxn) {
    const oids = [];
    for (let i = base; i < Math.min(objects, base + perTxn); i++) oids.push(BigInt(i + 1));
    await commitBatch(s, oids, 100);
    if ((base + perTxn) % perSeg === 0) await s.seal();
  }
  await s.seal();
  await s.close();
  console.log(JSON.stringify({ built: objects, sealedSegments: segments, ms: Math.round(performance.now() - t0) }));
} else if (mode === 'garbage') {
  // node scripts/measure.mjs garbage <dir> [objects=100000] [size=1000]: every object written twice, one seal per round
  const objects = Number(a ?? 100_000);
  const size = Number(b ?? 1000);
  fs.rmSync(dir, { recursive: true, force: true });
  const s = await open({ syncMode: 'none', segmentSize: 2 ** 40 });
  const serials = new Map();
  const t0 = performance.now();
  for (let round = 0; round < 2; round++) {
    for (let base = 0; base < objects; base += 1000) {
      const oids = [];
      for (let i = base; i < Math.min(objects, base + 1000); i++) oids.push(BigInt(i + 1));
      await commitBatch(s, oids, size, serials);
      if ((base / 1000) % 20 === 19) await s.seal();
    }
    await s.seal();
  }
  await s.close();
  console.log(JSON.stringify({ built: objects, rounds: 2, size, ms: Math.round(performance.now() - t0) }));
} else if (mode === 'open') {
  globalThis.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const s = await open();
  const ms = performance.now() - t0;
  globalThis.gc?.();
  const rss1 = process.memoryUsage().rss;
  await s.close();
  // baseline: an index-in-memory engine rebuilding a Map of every oid (oid -> offset) from the sealed indexes
  globalThis.gc?.();
  const rss2 = process.memoryUsage().rss;
  const t1 = performance.now();
  const map = new Map();
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.fs2')).sort()) {
    const buf = fs.readFileSync(join(dir, name));
    const footer = buf.subarray(buf.length - 80);
    const indexOff = Number(footer.readBigUInt64BE(16));
    const count = Number(footer.readBigUInt64BE(24));
    if (!footer.subarray(0, 7).equals(Buffer.from('HFS2IDX'))) continue;
    for (let i = 0; i < count; i++) map.set(Number(buf.readBigUInt64BE(indexOff + i * 32)), buf.readUIntBE(indexOff + i * 32 + 24, 6));
  }
  const mapMs = performance.now() - t1;
  globalThis.gc?.();
  const rss3 = process.memoryUsage().rss;
  console.log(JSON.stringify({ openMs: +ms.toFixed(1), openRssMiB: mib(rss1 - rss0), mapBaselineMs: Math.round(mapMs), mapBaselineRssMiB: mib(rss3 - rss2), keys: map.size }));
} else if (mode === 'load') {
  const lookups = Number(a ?? 100_000);
  const s = await open({ readOnly: true });
  const max = Number(s.lastTransaction() > 0n ? 1_000_000 : 0);
  const keys = Array.from({ length: lookups }, () => BigInt(1 + Math.floor(Math.random() * max)));
  for (const k of keys.slice(0, 2000)) await s.load(k);
  let t0 = performance.now();
  for (const k of keys) await s.load(k);
  const fsMs = performance.now() - t0;
  await s.close();
  const { ClassicLevel } = await import('classic-level');
  const ldir = `${dir}-leveldb`;
  if (!fs.existsSync(ldir)) {
    const db = new ClassicLevel(ldir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    const value = Buffer.alloc(100, 97);
    for (let base = 0; base < max; base += 10000) {
      const batch = db.batch();
      for (let i = base; i < Math.min(max, base + 10000); i++) {
        const key = Buffer.alloc(8);
        key.writeBigUInt64BE(BigInt(i + 1));
        batch.put(key, value);
      }
      await batch.write();
    }
    await db.compactRange(Buffer.alloc(8), Buffer.alloc(8, 255));
    await db.close();
  }
  const db = new ClassicLevel(ldir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  const lkeys = keys.map((k) => { const key = Buffer.alloc(8); key.writeBigUInt64BE(k); return key; });
  for (const k of lkeys.slice(0, 2000)) await db.get(k);
  t0 = performance.now();
  for (const k of lkeys) await db.get(k);
  const ldbMs = performance.now() - t0;
  await db.close();
  console.log(JSON.stringify({ lookups, fs2LoadsPerSec: Math.round(lookups / (fsMs / 1000)), levelGetsPerSec: Math.round(lookups / (ldbMs / 1000)) }));
} else if (mode === 'commit') {
  const txns = Number(a ?? 300);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // raw: append 100 x ~250 B and fdatasync, like one commit
  const raw = fs.openSync(join(dir, 'raw.bin'), 'w');
  const payload = Buffer.alloc(100 * 250, 1);
  let pos = 0;
  let t0 = performance.now();
  for (let i = 0; i < txns; i++) {
    fs.writeSync(raw, payload, 0, payload.length, pos);
    pos += payload.length;
    fs.fdatasyncSync(raw);
  }
  const rawRate = txns / ((performance.now() - t0) / 1000);
  fs.closeSync(raw);
  const s = await open({ syncMode: 'always' });
  const serials = new Map();
  let next = 1n;
  t0 = performance.now();
  for (let i = 0; i < txns; i++) {
    const oids = Array.from({ length: 100 }, () => next++);
    await commitBatch(s, oids, 200, serials);
  }
  const singleRate = txns / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  let done = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (done < txns * 4) {
      done++;
      const oids = Array.from({ length: 100 }, () => next++);
      await commitBatch(s, oids, 200, serials);
    }
  }));
  const concurrentRate = done / ((performance.now() - t0) / 1000);
  await s.close();
  console.log(JSON.stringify({ rawFdatasyncPerSec: Math.round(rawRate), singleCommitsPerSec: Math.round(singleRate), ratioToRaw: +(singleRate / rawRate).toFixed(2), committers32PerSec: Math.round(concurrentRate), groupSpeedup: +(concurrentRate / singleRate).toFixed(1) }));
}
