// Crash test: the conformance kill -9 loop against the SQLite engine (storage + blobs in one file).
// usage: node scripts/kill-loop.mjs [cycles] [blobs:0|1]
import { runKillLoop, formatKillLoopReport } from '../../../conformance/dist/src/crash/index.js';
const cycles = Number(process.argv[2] ?? 20);
const blobs = process.argv[3] !== '0';
const report = await runKillLoop({
  config: (dir) => ({ engine: 'sqlite', path: `${dir}/db.sqlite`, locatorSecret: 'kill-loop-secret-0123456789' }),
  cycles,
  blobs,
  minKillMs: Number(process.env.MIN_KILL_MS ?? 50),
  maxKillMs: Number(process.env.MAX_KILL_MS ?? 1500),
  onCycle: (c) => process.stdout.write(`cycle ${c.cycle}: acked ${c.acknowledged} recovered ${c.recoveredSeq}\n`),
});
console.log(formatKillLoopReport(report));
process.exit(report.violations?.length ? 1 : 0);
