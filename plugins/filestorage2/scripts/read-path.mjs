// Measures small positioned reads: fs.readSync vs fs.read (callback) vs FileHandle.read, 4 KiB at random
// 4 KiB-aligned offsets of a hot 64 MiB file. Usage: node scripts/read-path.mjs [count]
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const count = Number(process.argv[2] ?? 20000);
const dir = mkdtempSync(join(tmpdir(), 'fs2-readpath-'));
const path = join(dir, 'data.bin');
const size = 64 * 1024 * 1024;
const chunk = Buffer.alloc(1 << 20, 7);
const wfd = fs.openSync(path, 'w');
for (let i = 0; i < size; i += chunk.length) fs.writeSync(wfd, chunk, 0, chunk.length, i);
fs.closeSync(wfd);
const fd = fs.openSync(path, 'r');
const buf = Buffer.alloc(4096);
const offsets = Array.from({ length: count }, () => Math.floor(Math.random() * (size / 4096)) * 4096);
for (const o of offsets) fs.readSync(fd, buf, 0, 4096, o); // warm

let t0 = performance.now();
for (const o of offsets) fs.readSync(fd, buf, 0, 4096, o);
const syncUs = ((performance.now() - t0) * 1000) / count;

t0 = performance.now();
for (const o of offsets) await new Promise((res, rej) => fs.read(fd, buf, 0, 4096, o, (e) => (e ? rej(e) : res())));
const asyncUs = ((performance.now() - t0) * 1000) / count;

const fh = await fs.promises.open(path, 'r');
t0 = performance.now();
for (const o of offsets) await fh.read(buf, 0, 4096, o);
const fhUs = ((performance.now() - t0) * 1000) / count;

t0 = performance.now();
const inflight = 16;
let next = 0;
await Promise.all(Array.from({ length: inflight }, async () => {
  const b = Buffer.alloc(4096);
  while (next < count) {
    const o = offsets[next++];
    await new Promise((res, rej) => fs.read(fd, b, 0, 4096, o, (e) => (e ? rej(e) : res())));
  }
}));
const async16Us = ((performance.now() - t0) * 1000) / count;
await fh.close();
fs.closeSync(fd);
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ count, readSyncUs: +syncUs.toFixed(2), fsReadUs: +asyncUs.toFixed(2), fileHandleReadUs: +fhUs.toFixed(2), fsRead16InFlightUs: +async16Us.toFixed(2) }));
