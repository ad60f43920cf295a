/**
 * The fault sweep for native I/O (SQLite through better-sqlite3): the workload runs in a child
 * process under `strace -f`, restricted with `-P` to the database's own files, and
 * `-e inject=SYSCALL:error=ERRNO:when=N` makes the N-th traced call of one syscall fail (strace counts
 * per thread, so each thread's N-th call fails). A counting run first learns how many calls of each
 * syscall the workload makes; the parent then reopens every faulted database with no injection and checks it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DatabaseConfigObject, Tid } from '@handlerton/framework';
import type { HarnessViolation } from '../harnesses/harness-report.js';
import type { ChildSpec } from './child.js';
import type { RaisedError, SweepStep, WorkloadOutcome } from './sweep-workload.js';
import { judgeRun, zeroCounts, type RunCounts } from './verdict.js';

/** The syscalls the issue names, in sweep order. */
export const NATIVE_SYSCALLS = ['fdatasync', 'fsync', 'pwrite64', 'write', 'rename', 'unlink', 'openat', 'ftruncate'] as const;
/** The errors injected. */
export const NATIVE_ERRNOS = ['EIO', 'ENOSPC'] as const;
const SYNC_SYSCALLS = new Set(['fdatasync', 'fsync']);
const CHILD_MODULE = fileURLToPath(new URL('./child.js', import.meta.url));

/** Options of sweepSyscalls. */
export interface SyscallSweepOptions {
  readonly config: (dir: string) => DatabaseConfigObject;
  /** Only files whose name (relative to the database directory) starts with one of these are traced (default: every file). */
  readonly filePrefixes?: readonly string[];
  readonly syscalls?: readonly string[];
  readonly errnos?: readonly string[];
  /** Run every `stride`-th call number only (default 1). */
  readonly stride?: number;
  /** At most this many runs per (syscall, errno), spread evenly over the calls (default: no limit). */
  readonly samplesPerSyscall?: number;
  readonly steps?: readonly SweepStep[];
  readonly preload?: readonly string[];
  /** Longest time one child may take (default 120 s); then its process group is killed and a hang counted. */
  readonly runTimeoutMs?: number;
  readonly dir?: string;
  readonly onRun?: (line: string) => void;
}

/** Totals of a syscall sweep. */
export interface SyscallSweepResult {
  /** Traced calls per syscall in the counting run (the largest count of any one thread). */
  readonly calls: Record<string, number>;
  /** Traced calls in all, all threads. */
  readonly ops: number;
  readonly runs: number;
  /** Runs in which strace reported an injected call. */
  readonly injected: number;
  readonly counts: RunCounts;
  readonly violations: HarnessViolation[];
  /** Why the sweep could not run (strace missing, nothing traced). */
  readonly notVerified?: string;
}

/** The strace version line, or undefined when strace cannot be run. */
export function straceVersion(): string | undefined {
  const probe = spawnSync('strace', ['-V'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return undefined;
  return probe.stdout.split('\n')[0];
}

/** Counts the calls, then runs one child per (syscall, errno, call number) and checks each. */
export async function sweepSyscalls(options: SyscallSweepOptions): Promise<SyscallSweepResult> {
  const counts = zeroCounts();
  const violations: HarnessViolation[] = [];
  if (straceVersion() === undefined) {
    return { calls: {}, ops: 0, runs: 0, injected: 0, counts, violations, notVerified: 'strace is not installed (Debian: apt-get install strace); the native I/O of this engine was not fault-tested' };
  }
  const base = await mkdtemp(join(options.dir ?? tmpdir(), 'handlerton-faults-native-'));
  const syscalls = options.syscalls ?? NATIVE_SYSCALLS;
  try {
    // discovery: which files the engine makes, so that -P names exactly them (and their -wal/-shm/-journal)
    const discoverDir = join(base, 'discover');
    const discovery = await runChild(options, discoverDir, [], undefined);
    if (discovery.outcome.error !== undefined) {
      return { calls: {}, ops: 0, runs: 0, injected: 0, counts, violations: [{ message: `the workload fails without any fault: ${discovery.outcome.error.message}` }], notVerified: 'the workload failed' };
    }
    const scope = traceScope(discoverDir, options.filePrefixes);
    const countDir = join(base, 'count');
    const counting = await runChild(options, countDir, ['-e', `trace=${syscalls.join(',')}`, ...pathArgs(countDir, scope)], undefined);
    const calls: Record<string, number> = {};
    let ops = 0;
    const perThread = new Map<string, number>();
    for (const line of counting.trace) {
      const match = /^(\d+)\s+([a-z0-9_]+)\(/.exec(line);
      if (match === null) continue;
      ops++;
      const key = `${match[2]} ${match[1]}`;
      perThread.set(key, (perThread.get(key) ?? 0) + 1);
    }
    for (const [key, n] of perThread) {
      const name = key.split(' ')[0] ?? '';
      calls[name] = Math.max(calls[name] ?? 0, n);
    }
    if (ops === 0) {
      return { calls, ops, runs: 0, injected: 0, counts, violations, notVerified: 'strace traced no call on the database files: the native I/O was not seen' };
    }
    await rm(countDir, { recursive: true, force: true });
    let runs = 0;
    let injected = 0;
    for (const syscall of syscalls) {
      const total = calls[syscall] ?? 0;
      for (const errno of options.errnos ?? NATIVE_ERRNOS) {
        for (const n of callNumbers(total, options.stride ?? 1, options.samplesPerSyscall)) {
          const dir = join(base, `${syscall}-${errno}-${n}`);
          const run = await runChild(options, dir, ['-e', `trace=${syscall}`, '-e', `inject=${syscall}:error=${errno}:when=${n}`, ...pathArgs(dir, scope)], options.runTimeoutMs ?? 120_000);
          runs++;
          const hits = run.trace.filter((line) => line.includes('(INJECTED)'));
          if (hits.length > 0) injected++;
          const label = `${syscall} ${errno} at call ${n}`;
          if (run.hung) {
            counts.hangs++;
            violations.push({ message: `${label}: the child hung (killed after the timeout)`, replay: { syscall, errno, when: n } });
            options.onRun?.(`${label}: HANG`);
            await rm(dir, { recursive: true, force: true });
            continue;
          }
          const verdict = await judgeRun(options.config(dir), run.outcome, { syncFailed: SYNC_SYSCALLS.has(syscall), injected: hits.length > 0 });
          for (const key of Object.keys(counts) as Array<keyof RunCounts>) counts[key] += verdict.counts[key];
          for (const problem of verdict.problems) violations.push({ message: `${label}: ${problem}`, replay: { syscall, errno, when: n } });
          const where = hits.map((line) => /"([^"]+)"|<([^>]+)>/.exec(line)?.[0] ?? '').join(' ');
          options.onRun?.(`${label}: ${hits.length > 0 ? `injected ${hits.length}x ${where.slice(0, 120)}` : 'not reached'}, ${describe(run.outcome)}${verdict.problems.length > 0 ? ` VIOLATION ${verdict.problems.join('; ')}` : ''}`);
          await rm(dir, { recursive: true, force: true });
        }
      }
    }
    return { calls, ops, runs, injected, counts, violations };
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

/** The call numbers to fault: 1..total by `stride`, or `samples` of them spread evenly (the middle of each of `samples` equal parts). */
export function callNumbers(total: number, stride: number, samples: number | undefined): number[] {
  const all: number[] = [];
  for (let n = 1; n <= total; n += Math.max(1, stride)) all.push(n);
  if (samples === undefined || all.length <= samples) return all;
  const picked = new Set<number>();
  for (let i = 0; i < samples; i++) picked.add(all[Math.floor(((i + 0.5) * all.length) / samples)] ?? 1);
  return [...picked];
}

/** Relative names of the files to trace: what the engine made, plus SQLite's -wal/-shm/-journal of each. */
function traceScope(dir: string, prefixes: readonly string[] | undefined): string[] {
  const names = new Set<string>();
  for (const entry of readdirSync(dir, { recursive: true }) as string[]) {
    const name = entry.toString();
    if (prefixes !== undefined && !prefixes.some((prefix) => name.startsWith(prefix))) continue;
    for (const suffix of ['', '-wal', '-shm', '-journal']) names.add(`${name}${suffix}`);
  }
  return [...names].sort();
}

function pathArgs(dir: string, scope: readonly string[]): string[] {
  const args = ['-P', dir];
  for (const name of scope) args.push('-P', join(dir, name));
  return args;
}

function describe(outcome: WorkloadOutcome): string {
  const acks = `acked ${outcome.acknowledged.length}`;
  if (outcome.error === undefined) return `${acks}, no error surfaced`;
  const probe = outcome.probe.outcome === 'none' ? '' : outcome.probe.outcome === 'refused' ? `, probe refused (${outcome.probe.error.code ?? 'untyped'})` : ', probe committed';
  return `${acks}, ${outcome.error.step} raised ${outcome.error.code ?? 'UNTYPED'}${probe}`;
}

interface ChildRun {
  readonly outcome: WorkloadOutcome;
  readonly trace: string[];
  readonly hung: boolean;
}

/** Runs the child under strace with `straceArgs` (no strace when empty) in `dir`. */
async function runChild(options: SyscallSweepOptions, dir: string, straceArgs: readonly string[], timeoutMs: number | undefined): Promise<ChildRun> {
  const spec: ChildSpec = { config: options.config(dir), ...(options.steps !== undefined ? { steps: options.steps } : {}), ...(options.preload !== undefined ? { preload: options.preload } : {}) };
  const traceFile = `${dir}.strace`;
  const command = straceArgs.length === 0 ? process.execPath : 'strace';
  const args = straceArgs.length === 0 ? [CHILD_MODULE, JSON.stringify(spec)] : ['-f', '-qq', '-y', '-o', traceFile, ...straceArgs, process.execPath, CHILD_MODULE, JSON.stringify(spec)];
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  let hung = false;
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
    hung = true;
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }, timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on('close', (exit) => resolve(exit)));
  clearTimeout(timer);
  let trace: string[] = [];
  if (straceArgs.length > 0) {
    try {
      trace = readFileSync(traceFile, 'utf8').split('\n');
    } catch {
      trace = [];
    }
    await rm(traceFile, { force: true });
  }
  return { outcome: parseChildOutput(stdout, code, stderr), trace, hung };
}

/** The child's outcome from its ACK/RESULT/CRASH lines; a child that died without RESULT raised an untyped error. */
export function parseChildOutput(stdout: string, exitCode: number | null, stderr: string): WorkloadOutcome {
  const acknowledged: Array<{ seq: number; tid: Tid }> = [];
  let result: WorkloadOutcome | undefined;
  let crash: string | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('ACK ')) {
      const [, seq, tid] = line.split(' ');
      if (seq !== undefined && tid !== undefined) acknowledged.push({ seq: Number(seq), tid: BigInt(tid) });
    } else if (line.startsWith('RESULT ')) {
      result = reviveOutcome(JSON.parse(line.slice(7)) as Record<string, unknown>);
    } else if (line.startsWith('CRASH ')) crash = line.slice(6);
  }
  if (result !== undefined) return result;
  const probeAcks = acknowledged;
  const error: RaisedError = { step: 'child', code: undefined, message: `the child died (exit ${exitCode}) without a result: ${crash ?? stderr.trim().split('\n').slice(-3).join(' | ')}` };
  return { acknowledged: probeAcks, error, probe: { outcome: 'none' }, closeError: undefined };
}

function reviveOutcome(value: Record<string, unknown>): WorkloadOutcome {
  const acks = (value['acknowledged'] as Array<{ seq: number; tid: string }>).map(({ seq, tid }) => ({ seq, tid: BigInt(tid) }));
  const probe = value['probe'] as { outcome: string; seq?: number; tid?: string; error?: RaisedError };
  return {
    acknowledged: acks,
    error: value['error'] as RaisedError | undefined,
    closeError: value['closeError'] as RaisedError | undefined,
    probe:
      probe.outcome === 'committed' ? { outcome: 'committed', seq: probe.seq ?? 0, tid: BigInt(probe.tid ?? '0') } : probe.outcome === 'refused' && probe.error !== undefined ? { outcome: 'refused', error: probe.error } : { outcome: 'none' },
  };
}
