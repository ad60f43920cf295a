// Packs a storage directory and reports time, throughput and RSS growth. Usage: node scripts/pack-run.mjs <dir>
import * as fs from 'node:fs';
import { join } from 'node:path';
import { FileStorage2 } from '../dist/src/storage/filestorage2.js';
import { parseFileStorage2Options } from '../dist/src/filestorage2-config.js';

const ctx = { clock: { now: () => Date.now() }, logger: { debug() {}, info(o, m) { if (m) console.log(m, JSON.stringify(o)); }, warn() {}, error() {}, child() { return this; } }, fs };
const dir = process.argv[2];
const size = () => fs.readdirSync(dir).filter((n) => n.endsWith('.fs2')).reduce((n, f) => n + fs.statSync(join(dir, f)).size, 0);
const s = await FileStorage2.open(parseFileStorage2Options(dir, {}), ctx);
const before = size();
let peak = process.memoryUsage().rss;
const rss0 = peak;
const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const t0 = performance.now();
const result = await s.pack(s.lastTransaction());
const ms = performance.now() - t0;
clearInterval(timer);
await s.close();
console.log(JSON.stringify({ inputMiB: +(before / 1048576).toFixed(1), outputMiB: +(size() / 1048576).toFixed(1), ms: Math.round(ms), MiBps: +((before / 1048576) / (ms / 1000)).toFixed(1), peakRssGrowthMiB: +((peak - rss0) / 1048576).toFixed(1), ...result }));
