/**
 * The fault sweep for engines whose file I/O goes through the injected file-system access
 * (FileStorage2 storage and blobs, SQLite's JavaScript file operations): one counting run, then
 * one run per operation number N and fault mode, each in a fresh directory, each checked.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseConfig, FileSystem } from '@handlerton/framework';
import type { HarnessViolation } from '../harnesses/harness-report.js';
import { FAULT_MODES, faultyFileSystem, isSyncOperation, isWriteOperation, type FaultMode } from './faulty-fs.js';
import { runSweepWorkload, SWEEP_STEPS, type SweepStep, type WorkloadOutcome } from './sweep-workload.js';
import { judgeRun, zeroCounts, type RunCounts } from './verdict.js';

/** Options of sweepInjectedFs. */
export interface FsSweepOptions {
  /** The database config for a fresh directory. */
  readonly config: (dir: string) => DatabaseConfig;
  readonly modes?: readonly FaultMode[];
  /** Run every `stride`-th operation number only (default 1: all). */
  readonly stride?: number;
  /** First operation number (default 1; with a stride, where the stride starts). */
  readonly from?: number;
  /** Last operation number (default: all counted). */
  readonly to?: number;
  readonly steps?: readonly SweepStep[];
  /** Longest time one run may take before it counts as a hang (default 60 s). */
  readonly runTimeoutMs?: number;
  /** Wraps the FileSystem the engine gets (tests use it to build a broken engine). */
  readonly wrapFs?: (fs: FileSystem) => FileSystem;
  readonly dir?: string;
  readonly onRun?: (line: string) => void;
}

/** Totals of a sweep. */
export interface FsSweepResult {
  /** File operations the workload makes (the counting run). */
  readonly ops: number;
  readonly runs: number;
  readonly counts: RunCounts;
  /** Runs whose fault surfaced as an API error, and runs where it did not surface at all. */
  readonly surfaced: number;
  readonly silent: number;
  readonly violations: HarnessViolation[];
  /** Error codes raised, with how often. */
  readonly codes: Record<string, number>;
}

/** Runs the counting run and then one run per (operation, mode). */
export async function sweepInjectedFs(options: FsSweepOptions): Promise<FsSweepResult> {
  const base = await mkdtemp(join(options.dir ?? tmpdir(), 'handlerton-faults-'));
  const wrap = options.wrapFs ?? ((fs: FileSystem) => fs);
  const steps = options.steps ?? SWEEP_STEPS;
  const violations: HarnessViolation[] = [];
  const counts = zeroCounts();
  const codes: Record<string, number> = {};
  let runs = 0;
  let surfaced = 0;
  let silent = 0;
  try {
    const countDir = join(base, 'count');
    const counter = faultyFileSystem({}, { log: true });
    const baseline = await runSweepWorkload({ config: options.config(countDir), fs: wrap(counter.fs), steps });
    counter.disarm();
    const ops = counter.count();
    if (baseline.error !== undefined) {
      violations.push({ message: `the workload fails without any fault: ${baseline.error.step}: ${baseline.error.message}` });
      return { ops, runs, counts, surfaced, silent, violations, codes };
    }
    await rm(countDir, { recursive: true, force: true });
    const stride = Math.max(1, options.stride ?? 1);
    const last = Math.min(ops, options.to ?? ops);
    for (const mode of options.modes ?? FAULT_MODES) {
      for (let op = Math.max(1, options.from ?? 1); op <= last; op += stride) {
        // a short write only applies to writes (elsewhere it would repeat the ENOSPC run)
        if (mode === 'short' && !isWriteOperation(counter.log[op - 1] ?? '')) continue;
        const dir = join(base, `${mode}-${op}`);
        const config = options.config(dir);
        const faulty = faultyFileSystem({ failAt: op, mode });
        const outcome = await withTimeout(
          runSweepWorkload({ config, fs: wrap(faulty.fs), steps, probeAfter: () => isSyncOperation(faulty.injected()?.name ?? '') }),
          options.runTimeoutMs ?? 60_000,
        );
        faulty.disarm();
        runs++;
        const fault = faulty.injected();
        const label = `${mode} at op ${op} (${fault === undefined ? 'not reached' : `${fault.name} ${fault.target.startsWith(dir) ? fault.target.slice(dir.length + 1) : fault.target}`}${fault?.short === true ? ', short write' : ''})`;
        if (outcome === undefined) {
          counts.hangs++;
          violations.push({ message: `${label}: the workload hung`, replay: { op, mode } });
          options.onRun?.(`${label}: HANG`);
          continue;
        }
        if (outcome.error !== undefined) {
          surfaced++;
          const code = outcome.error.code ?? 'untyped';
          codes[code] = (codes[code] ?? 0) + 1;
        } else silent++;
        const verdict = await judgeRun(config, outcome, { syncFailed: isSyncOperation(fault?.name ?? ''), injected: fault !== undefined && !fault.short, syncedFileDiscarded: faulty.discarded() });
        for (const key of Object.keys(counts) as Array<keyof RunCounts>) counts[key] += verdict.counts[key];
        for (const problem of verdict.problems) violations.push({ message: `${label}: ${problem}`, replay: { op, mode } });
        options.onRun?.(`${label}: ${describe(outcome)}${verdict.counts.swallowed > 0 ? ' (failed sync never surfaced)' : ''}${verdict.problems.length > 0 ? ` VIOLATION ${verdict.problems.join('; ')}` : ''}`);
        await rm(dir, { recursive: true, force: true });
      }
    }
    return { ops, runs, counts, surfaced, silent, violations, codes };
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

function describe(outcome: WorkloadOutcome): string {
  const acks = `acked ${outcome.acknowledged.length}`;
  if (outcome.error === undefined) return `${acks}, no error surfaced`;
  const probe = outcome.probe.outcome === 'none' ? '' : outcome.probe.outcome === 'refused' ? `, probe refused (${outcome.probe.error.code ?? 'untyped'})` : ', probe COMMITTED';
  return `${acks}, ${outcome.error.step} raised ${outcome.error.code ?? 'UNTYPED'}${probe}`;
}

/** The promise's value, or undefined when it did not settle within `ms` (the run is abandoned). */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
