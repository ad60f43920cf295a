// 25 KB write + fdatasync latency: append vs ftruncate-extended region vs synced zero-filled region.
// Usage: node scripts/fsync-modes.mjs
import * as fs from 'node:fs';
const dir = fs.mkdtempSync('/tmp/fsm-');
const payload = Buffer.alloc(25000, 1);
const N = 200;
const modes = ['append', 'sparse', 'zeroed'];
const fds = {}; const pos = {};
for (const m of modes) {
  const fd = fs.openSync(`${dir}/${m}`, 'w+'); fds[m] = fd; pos[m] = 0;
  if (m === 'sparse') fs.ftruncateSync(fd, N * payload.length + 4096);
  if (m === 'zeroed') { const z = Buffer.alloc(1 << 20); for (let at = 0; at < N * payload.length + 4096; at += z.length) fs.writeSync(fd, z, 0, z.length, at); fs.fsyncSync(fd); }
  if (m === 'sparse') fs.fsyncSync(fd);
}
const lat = { append: [], sparse: [], zeroed: [] };
for (let i = 0; i < N; i++) for (const m of modes) {
  const t = performance.now();
  fs.writeSync(fds[m], payload, 0, payload.length, pos[m]); pos[m] += payload.length;
  fs.fdatasyncSync(fds[m]);
  lat[m].push(performance.now() - t);
}
const q = (a, p) => { const b = [...a].sort((x, y) => x - y); return +b[Math.floor(b.length * p)].toFixed(3); };
for (const m of modes) console.log(m, 'p50', q(lat[m], 0.5), 'p90', q(lat[m], 0.9), 'mean', +(lat[m].reduce((a, b) => a + b, 0) / N).toFixed(3));
fs.rmSync(dir, { recursive: true, force: true });
