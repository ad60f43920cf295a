/**
 * runFaultSweep: the I/O fault sweep for one engine or mixed pair. File operations made through the
 * injected file-system access are faulted in process (EIO, ENOSPC, short writes); native I/O
 * (SQLite) is faulted at the syscall level with strace. Every faulted run is checked (typed error,
 * nothing acknowledged lost, nothing half applied, reopens on a healthy disk, refuses writes after a
 * failed sync) and the totals become a HarnessReport with the `faults:` summary line.
 */
import { InvalidArgumentError, type FileSystem } from '@handlerton/framework';
import { harnessTarget, type HarnessTarget, type TargetSpec } from '../harnesses/target.js';
import { summaryLine, type HarnessReport, type HarnessViolation } from '../harnesses/harness-report.js';
import { FAULT_MODES, type FaultMode } from './faulty-fs.js';
import { sweepInjectedFs } from './fs-sweep.js';
import { sweepSyscalls } from './strace-sweep.js';
import type { SweepStep } from './sweep-workload.js';
import { zeroCounts, type RunCounts } from './verdict.js';

/** Where faults are injected: the injected FileSystem, syscalls through strace, or both. */
export type FaultMechanism = 'fs' | 'strace' | 'both';

/** Engines whose file I/O is native (not through the injected FileSystem) and need strace. */
const NATIVE_IO_ENGINES = new Set(['sqlite']);
/** Options a built-in engine gets when none are given: small FileStorage2 segments, so the workload seals. */
const DEFAULT_OPTIONS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = { filestorage2: { segmentSize: 4096 } };

/** Options of runFaultSweep. */
export interface FaultSweepOptions {
  /** The engine or mixed pair (a target, or its spec; built-in engines get small defaults). */
  readonly target: HarnessTarget | TargetSpec;
  /** Default: 'both' when an engine does native I/O (sqlite), else 'fs'. */
  readonly mechanism?: FaultMechanism;
  /** Fault modes of the FileSystem sweep (default EIO, ENOSPC, short). */
  readonly modes?: readonly FaultMode[];
  /** FileSystem sweep: every `stride`-th operation (default 1), from `from` to `to`. */
  readonly stride?: number;
  readonly from?: number;
  readonly to?: number;
  /** strace sweep: syscalls (default the eight of the issue), errnos (EIO, ENOSPC), every `nativeStride`-th call. */
  readonly syscalls?: readonly string[];
  readonly errnos?: readonly string[];
  readonly nativeStride?: number;
  /** strace sweep: at most this many runs per (syscall, errno), spread over the calls. */
  readonly samplesPerSyscall?: number;
  readonly steps?: readonly SweepStep[];
  readonly preload?: readonly string[];
  readonly runTimeoutMs?: number;
  /** Wraps the FileSystem the engine gets in the in-process sweep (tests build broken engines with it). */
  readonly wrapFs?: (fs: FileSystem) => FileSystem;
  readonly dir?: string;
  /** Progress: one line per run. */
  readonly onRun?: (line: string) => void;
}

/** The target of `options`, with the built-in defaults applied to a spec. */
export function sweepTarget(target: HarnessTarget | TargetSpec): HarnessTarget {
  if ('config' in target) return target;
  const options = target.options ?? DEFAULT_OPTIONS[target.engine] ?? {};
  const blobOptions = target.blobOptions ?? (target.blobs === undefined ? options : (DEFAULT_OPTIONS[target.blobs] ?? {}));
  return harnessTarget({ ...target, options, blobOptions });
}

/** Runs the sweep and reports `faults: engine=<label> ops=N lost=0 partial=0 untyped=0 unopenable=0 ...`. */
export async function runFaultSweep(options: FaultSweepOptions): Promise<HarnessReport> {
  const started = Date.now();
  const target = sweepTarget(options.target);
  const native = [target.storageEngine, target.blobEngine].filter((engine) => NATIVE_IO_ENGINES.has(engine));
  const mechanism = options.mechanism ?? (native.length > 0 ? 'both' : 'fs');
  if (!['fs', 'strace', 'both'].includes(mechanism)) throw new InvalidArgumentError(`mechanism must be fs, strace or both, got ${JSON.stringify(mechanism)}`);
  for (const mode of options.modes ?? []) if (!FAULT_MODES.includes(mode)) throw new InvalidArgumentError(`modes: unknown fault mode ${JSON.stringify(mode)} (EIO, ENOSPC, short)`);
  const counts: RunCounts = zeroCounts();
  const violations: HarnessViolation[] = [];
  let ops = 0;
  let runs = 0;
  let notVerified: string | undefined;
  const extra: Record<string, number> = {};
  const add = (more: RunCounts): void => {
    for (const key of Object.keys(counts) as Array<keyof RunCounts>) counts[key] += more[key];
  };
  const common = {
    config: (dir: string) => target.config(dir),
    ...(options.steps !== undefined ? { steps: options.steps } : {}),
    ...(options.runTimeoutMs !== undefined ? { runTimeoutMs: options.runTimeoutMs } : {}),
    ...(options.dir !== undefined ? { dir: options.dir } : {}),
    ...(options.onRun !== undefined ? { onRun: options.onRun } : {}),
  };
  if (mechanism !== 'strace') {
    const result = await sweepInjectedFs({
      ...common,
      ...(options.modes !== undefined ? { modes: options.modes } : {}),
      ...(options.stride !== undefined ? { stride: options.stride } : {}),
      ...(options.from !== undefined ? { from: options.from } : {}),
      ...(options.to !== undefined ? { to: options.to } : {}),
      ...(options.wrapFs !== undefined ? { wrapFs: options.wrapFs } : {}),
    });
    ops += result.ops;
    runs += result.runs;
    extra['fs_ops'] = result.ops;
    add(result.counts);
    violations.push(...result.violations);
  }
  if (mechanism !== 'fs') {
    const prefixes = native.length === 2 || target.storageEngine === target.blobEngine ? undefined : NATIVE_IO_ENGINES.has(target.blobEngine) ? ['blobs'] : ['records'];
    const result = await sweepSyscalls({
      ...common,
      ...(prefixes !== undefined ? { filePrefixes: prefixes } : {}),
      ...(options.syscalls !== undefined ? { syscalls: options.syscalls } : {}),
      ...(options.errnos !== undefined ? { errnos: options.errnos } : {}),
      ...(options.nativeStride !== undefined ? { stride: options.nativeStride } : {}),
      ...(options.samplesPerSyscall !== undefined ? { samplesPerSyscall: options.samplesPerSyscall } : {}),
      ...(options.preload !== undefined ? { preload: options.preload } : {}),
    });
    ops += result.ops;
    runs += result.runs;
    extra['native_ops'] = result.ops;
    extra['injected'] = result.injected;
    add(result.counts);
    violations.push(...result.violations);
    notVerified = result.notVerified;
  }
  const summaryCounts = { ops, lost: counts.lost, partial: counts.partial, untyped: counts.untyped, unopenable: counts.unopenable, unrefused: counts.unrefused, hangs: counts.hangs };
  const ok = notVerified === undefined && runs > 0 && violations.length === 0 && Object.entries(summaryCounts).every(([key, value]) => key === 'ops' || value === 0);
  const tail = { runs, discarded: counts.discarded, swallowed: counts.swallowed, ...extra };
  return {
    harness: 'faults',
    engine: target.label,
    ok,
    counts: summaryCounts,
    summary: summaryLine('faults', target.label, summaryCounts, notVerified === undefined ? tail : { ...tail, not_verified: JSON.stringify(notVerified) }),
    violations,
    durationMs: Date.now() - started,
    ...(notVerified !== undefined ? { notVerified } : {}),
  };
}
