/** Runs jobs trial by trial in fresh child processes, building shared datasets on demand. */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { runTrial } from './child.js';
import type { Dataset, Job, JobOutcome, WorkerResult } from './types.js';

const MiB = 1024 * 1024;

/** Progress output. */
export type Log = (line: string) => void;

interface DatasetState {
  readonly dir: string;
  readonly error?: string;
}

function shortReason(reason: string): string {
  const line = reason.split('\n').find((l) => l.trim() !== '') ?? reason;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** Runs `jobs` (in order) under `root`; returns their outcomes by job key. */
export async function runJobs(
  jobs: readonly Job[],
  datasets: readonly Dataset[],
  root: string,
  log: Log,
): Promise<Map<string, JobOutcome>> {
  const outcomes = new Map<string, JobOutcome>();
  const built = new Map<string, DatasetState>();
  const lastUse = new Map<string, number>();
  jobs.forEach((job, i) => job.needs?.forEach((name) => lastUse.set(name, i)));

  const ensureDataset = async (name: string): Promise<DatasetState> => {
    const have = built.get(name);
    if (have !== undefined) return have;
    const def = datasets.find((d) => d.name === name);
    const dir = path.join(root, `ds-${name}`);
    if (def === undefined) {
      const state = { dir, error: `dataset ${name} is not defined` };
      built.set(name, state);
      return state;
    }
    await fsp.mkdir(dir, { recursive: true });
    const start = Date.now();
    let result = await runTrial({ bench: def.bench, params: def.params, scratch: dir, datasets: {} }, def.timeoutSec ?? 900);
    if (!result.ok && result.unavailable && result.reason.includes('does not load')) {
      log(`  dataset ${name}: ${shortReason(result.reason)}; retrying in 20 s`);
      await new Promise((resolve) => setTimeout(resolve, 20_000));
      await fsp.rm(dir, { recursive: true, force: true });
      await fsp.mkdir(dir, { recursive: true });
      result = await runTrial({ bench: def.bench, params: def.params, scratch: dir, datasets: {} }, def.timeoutSec ?? 900);
    }
    const secs = ((Date.now() - start) / 1000).toFixed(1);
    let state: DatasetState;
    if (result.ok) {
      state = { dir };
      log(`  dataset ${name} built in ${secs} s: ${summarize(Object.fromEntries(Object.entries(result.metrics).map(([k, v]) => [k, [v]])))}`);
    } else {
      state = { dir, error: `dataset ${name}: ${shortReason(result.reason)}` };
      log(`  dataset ${name} FAILED after ${secs} s: ${shortReason(result.reason)}`);
    }
    built.set(name, state);
    return state;
  };

  for (let index = 0; index < jobs.length; index += 1) {
    const job = jobs[index] as Job;
    const start = Date.now();
    const dirs: Record<string, string> = {};
    let unavailable: string | undefined;
    for (const name of job.needs ?? []) {
      const state = await ensureDataset(name);
      if (state.error !== undefined && unavailable === undefined) unavailable = state.error;
      dirs[name] = state.dir;
    }
    const samples: Record<string, number[]> = {};
    const errors: string[] = [];
    let trials = 0;
    let retried = false;
    if (unavailable === undefined) {
      for (let t = 0; t < job.trials; t += 1) {
        const scratch = await fsp.mkdtemp(path.join(root, 'trial-'));
        try {
          let result: WorkerResult = { ok: true, metrics: {}, memory: { baselineRss: 0, peakSampledRss: 0, vmHwm: 0, growth: 0 } };
          if (job.prepare !== undefined) {
            result = await runTrial({ bench: job.prepare.bench, params: job.prepare.params, scratch, datasets: dirs }, job.timeoutSec ?? 900);
          }
          if (result.ok) result = await runTrial({ bench: job.bench, params: job.params, scratch, datasets: dirs }, job.timeoutSec ?? 300);
          if (!result.ok && result.unavailable && result.reason.includes('does not load') && !retried) {
            // Another session may be rebuilding the engine right now: wait once, then try again.
            retried = true;
            log(`  ${shortReason(result.reason)}; retrying in 20 s`);
            await new Promise((resolve) => setTimeout(resolve, 20_000));
            t -= 1;
            continue;
          }
          if (result.ok) {
            trials += 1;
            for (const [k, v] of Object.entries(result.metrics)) (samples[k] ??= []).push(v);
            (samples['rssGrowthMiB'] ??= []).push(result.memory.growth / MiB);
          } else if (result.unavailable) {
            unavailable = `not available: ${shortReason(result.reason)}`;
            break;
          } else {
            errors.push(shortReason(result.reason));
            if (errors.length >= 2 && trials === 0) break;
          }
        } finally {
          await fsp.rm(scratch, { recursive: true, force: true });
        }
      }
      if (trials === 0 && unavailable === undefined) unavailable = `failed: ${errors[0] ?? 'no trial succeeded'}`;
    }
    const seconds = (Date.now() - start) / 1000;
    outcomes.set(job.key, { key: job.key, samples, trials, seconds, ...(unavailable !== undefined ? { unavailable } : {}) });
    const summary = unavailable ?? summarize(samples);
    log(`[${index + 1}/${jobs.length}] ${job.key} (${trials}/${job.trials} trials, ${seconds.toFixed(1)} s): ${summary}`);
    if (errors.length > 0 && unavailable === undefined) log(`  ${errors.length} trial(s) failed: ${errors[0] ?? ''}`);
    // Drop datasets no later job needs.
    for (const [name, last] of lastUse) {
      if (last === index) {
        const state = built.get(name);
        if (state !== undefined) await fsp.rm(state.dir, { recursive: true, force: true });
      }
    }
  }
  return outcomes;
}

function summarize(samples: Readonly<Record<string, readonly number[]>>): string {
  return Object.entries(samples)
    .slice(0, 4)
    .map(([k, v]) => `${k}=${v.map((x) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(2))).join('/')}`)
    .join(' ');
}
