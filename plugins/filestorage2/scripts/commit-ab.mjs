// Interleaved A/B of durable commit rates (100 records x 200 B per transaction) between builds of
// FileStorage2, with a raw fdatasync reference (300 x 4 KiB appends) measured before every round.
// Usage: node scripts/commit-ab.mjs '<options json>' <seconds> <committers> <rounds> name=<dist dir> ...
//   e.g. node scripts/commit-ab.mjs '{}' 3 1 5 now=dist   (a second build: compile an older
//   checkout's src with tsc into another dist directory and name it here)
// Prints per build: txn/s of each round, the median, its ratio to the reference, CPU us/txn
// (process.cpuUsage: this thread, the thread pool and the kernel), p99 and max commit latency.
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [opts, secs, conc, rounds, ...variants] = process.argv.slice(2);
const ctx = { clock: { now: () => Date.now() }, logger: { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } }, fs };
const NO_REFS = { oids: [], blobs: [] };
const builds = {};
for (const v of variants) {
  const [name, d] = v.split('=');
  const dir = resolve(d);
  builds[name] = {
    S: (await import(join(dir, 'src/storage/filestorage2.js'))).FileStorage2,
    P: (await import(join(dir, 'src/filestorage2-config.js'))).parseFileStorage2Options,
    r: [],
  };
}
const payloads = Array.from({ length: 64 }, (_, i) => Buffer.alloc(200, 97 + (i % 26)));

function fsyncRef() {
  const f = join(tmpdir(), `fs2-ab-ref-${process.pid}`);
  const fd = fs.openSync(f, 'w');
  const b = Buffer.alloc(4096, 1);
  const t = performance.now();
  for (let i = 0; i < 300; i++) {
    fs.writeSync(fd, b);
    fs.fdatasyncSync(fd);
  }
  const rate = (300 / (performance.now() - t)) * 1000;
  fs.closeSync(fd);
  rmSync(f);
  return rate;
}

async function commitOne(s) {
  const oids = [];
  for (let i = 0; i < 100; i++) oids.push(await s.newOid());
  const txn = { meta: { user: '', description: 'bench', extension: {} } };
  await s.tpcBegin(txn);
  for (let i = 0; i < 100; i++) await s.store(oids[i], 0n, { data: payloads[i % 64], refs: NO_REFS }, txn);
  await s.tpcVote(txn);
  await s.tpcFinish(txn);
}

const ref = [];
for (let round = 0; round < Number(rounds); round++) {
  ref.push(fsyncRef());
  for (const b of Object.values(builds)) {
    const dir = mkdtempSync(join(tmpdir(), 'fs2-ab-'));
    const s = await b.S.open(b.P(dir, { syncMode: 'always', ...JSON.parse(opts) }), ctx);
    const lat = [];
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const end = t0 + Number(secs) * 1000;
    await Promise.all(
      Array.from({ length: Number(conc) }, async () => {
        while (performance.now() < end) {
          const t = performance.now();
          await commitOne(s);
          lat.push(performance.now() - t);
        }
      }),
    );
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    lat.sort((x, y) => x - y);
    b.r.push({ rate: (lat.length / ms) * 1000, cpu: (c.user + c.system) / lat.length, p99: lat[Math.floor(lat.length * 0.99)], max: lat[lat.length - 1] });
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log('fdatasync ref (4 KiB appends/s):', ref.map((x) => x.toFixed(0)).join(' '), '| median', med(ref).toFixed(0));
for (const [name, b] of Object.entries(builds)) {
  const rates = b.r.map((x) => x.rate);
  console.log(
    name.padEnd(8),
    'txn/s', rates.map((x) => x.toFixed(0)).join(' '),
    '| median', med(rates).toFixed(0), `(${(med(rates) / med(ref)).toFixed(2)}x ref)`,
    '| CPU us/txn', med(b.r.map((x) => x.cpu)).toFixed(0),
    '| p99 ms', med(b.r.map((x) => x.p99)).toFixed(2),
    '| max ms', b.r.map((x) => x.max.toFixed(0)).join(' '),
  );
}
