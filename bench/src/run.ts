/**
 * `npm run bench [-- --quick] [--filter <substring>] [--docs] [--report-only]`: runs the benchmark
 * plan, prints a table, writes bench/results/latest.{json,md}, the SVG charts and docs/benchmarks.md.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { computeFigures } from './harness/figures.js';
import { machineInfo } from './harness/machine.js';
import { runJobs } from './harness/runner.js';
import type { Job } from './harness/types.js';
import { buildCharts } from './report/charts.js';
import { docsMarkdown, existingNotes, latestMarkdown } from './report/markdown.js';
import type { RunResults } from './report/results.js';
import { consoleTable } from './report/text.js';
import { buildPlan, FULL, QUICK, TINY } from './suite.js';

const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const REPO = path.resolve(BENCH_DIR, '..');
const RESULTS = path.join(BENCH_DIR, 'results');
const DOCS = path.join(REPO, 'docs');

const METHOD = [
  'Every benchmark trial runs in a fresh Node process (`child_process.fork` of the compiled worker, `--expose-gc`, `UV_THREADPOOL_SIZE=16` for engines and references alike).',
  'Peak RSS growth is the highest of `process.memoryUsage().rss` sampled every 20 ms and `/proc/self/status` VmHWM (reset at the baseline through `/proc/self/clear_refs`), minus the RSS at the baseline taken after a full GC once the trial\'s inputs are prepared.',
  'Datasets (1M objects, etc.) are built once per run in their own process; pack input is built per trial in its own process; a figure is the median over trials with min and max.',
  'Event-loop delay is `perf_hooks.monitorEventLoopDelay({resolution: 10})`; its values include the 10 ms sampling interval, for the idle reference as for the workloads.',
  'Each figure stands next to a reference measured in the same run (raw disk, raw Node fs stream copy with 1 MiB chunks, classic-level, raw better-sqlite3 prepared statements, lmdb), and the ratio between the two is what the targets judge.',
  'Engines are opened through their plugin (`parseOptions` + `createStorage` / `createBlobHandlerton`, module import done before any measurement). Record workloads drive the Storage contract directly (tpcBegin/store/tpcVote/tpcFinish, load, deleteObject, pack). Blob figures go through the Database API (`createDatabase`, a transaction\'s blob handle `createWriteStream`, a snapshot\'s `createReadStream`, 1 MiB chunks, file → blob → file); the raw-handlerton variant is reported beside them at the smallest size. FileStorage2 runs with syncMode `always`, SQLite with synchronous=FULL.',
].join('\n');

interface Args {
  quick: boolean;
  tiny: boolean;
  filter: string | null;
  docs: boolean;
  reportOnly: boolean;
  list: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, tiny: false, filter: null, docs: false, reportOnly: false, list: false };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--tiny') args.tiny = true;
    else if (a === '--docs') args.docs = true;
    else if (a === '--report-only') args.reportOnly = true;
    else if (a === '--list') args.list = true;
    else if (a === '--filter') {
      const v = argv[i + 1];
      if (v === undefined) throw new Error('--filter needs a substring');
      args.filter = v;
      i += 1;
    } else if (a?.startsWith('--filter=') === true) args.filter = a.slice('--filter='.length);
    else throw new Error(`unknown option ${String(a)} (use --quick, --filter <substring>, --docs, --report-only, --list)`);
  }
  return args;
}

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

function writeOutputs(results: RunResults, writeDocs: boolean): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(path.join(RESULTS, 'latest.md'), latestMarkdown(results));
  log(`wrote ${path.relative(REPO, path.join(RESULTS, 'latest.json'))} and latest.md`);
  if (!writeDocs) return;
  const charts = buildCharts(results.figures);
  mkdirSync(path.join(DOCS, 'benchmarks'), { recursive: true });
  for (const c of charts) writeFileSync(path.join(DOCS, 'benchmarks', c.file), c.svg);
  const docFile = path.join(DOCS, 'benchmarks.md');
  const notes = existingNotes(existsSync(docFile) ? readFileSync(docFile, 'utf8') : undefined);
  writeFileSync(docFile, docsMarkdown(results, charts, notes));
  log(`wrote docs/benchmarks.md and ${charts.length} charts in docs/benchmarks/`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.tiny) args.quick = true;
  if (args.reportOnly) {
    const results = JSON.parse(readFileSync(path.join(RESULTS, 'latest.json'), 'utf8')) as RunResults;
    process.stdout.write(`${consoleTable(results.figures)}\n`);
    writeOutputs(results, true);
    return;
  }
  const plan = buildPlan(args.tiny ? TINY : args.quick ? QUICK : FULL);
  const figureDefs = args.filter === null ? plan.figures : plan.figures.filter((f) => f.id.includes(args.filter ?? '') || f.name.includes(args.filter ?? ''));
  const needed = new Set<string>();
  for (const f of figureDefs) {
    needed.add(f.value.job);
    if (f.reference !== undefined) needed.add(f.reference.job);
  }
  const jobs: Job[] = plan.jobs.filter((j) => needed.has(j.key));
  if (args.list) {
    for (const j of jobs) process.stdout.write(`${j.key} ×${j.trials}\n`);
    return;
  }
  const started = new Date();
  const machine = machineInfo();
  log(`handlerton bench: ${args.quick ? 'quick' : 'full'} run, ${jobs.length} jobs, ${figureDefs.length} figures; ${machine.cpuModel} ×${machine.cores}, Node ${machine.node}`);
  const root = mkdtempSync(path.join(os.tmpdir(), 'handlerton-bench-'));
  const cleanup = (): void => rmSync(root, { recursive: true, force: true });
  const onSignal = (): void => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let outcomes;
  try {
    outcomes = await runJobs(jobs, plan.datasets, root, log);
  } finally {
    cleanup();
  }
  const figures = computeFigures(figureDefs, outcomes);
  const finished = new Date();
  const results: RunResults = {
    version: 1,
    mode: args.quick ? 'quick' : 'full',
    filter: args.filter,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSec: (finished.getTime() - started.getTime()) / 1000,
    machine,
    method: METHOD,
    figures,
    jobs: [...outcomes.values()].map((o) => ({ key: o.key, trials: o.trials, seconds: o.seconds, ...(o.unavailable !== undefined ? { unavailable: o.unavailable } : {}) })),
  };
  process.stdout.write(`\n${consoleTable(figures)}\n\n`);
  // docs/benchmarks.md shows full runs; --docs forces it (e.g. from a quick run).
  writeOutputs(results, args.docs || (!args.quick && args.filter === null));
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
