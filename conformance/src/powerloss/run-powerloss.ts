/**
 * The power-loss harness: runs each workload once under the recording layer, then rebuilds the
 * post-crash state at every crash point in each mode, opens it with the plain file system and
 * checks the invariants (check-state.ts). A recovery interrupted by a second crash is covered by
 * recording the recovery of crashed states and enumerating its own crash points.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, openDatabase, type FileSystem } from '@handlerton/framework';
import { mix32 } from '../crash/prng.js';
import { harnessTarget, type HarnessTarget, type TargetSpec } from '../harnesses/target.js';
import { summaryLine, type HarnessReport, type HarnessViolation } from '../harnesses/harness-report.js';
import { checkState, type StateVerdict } from './check-state.js';
import { CRASH_MODES, crashPoints, crashState, markersBefore, treeDigest, writeTree, type CrashMode } from './crash-states.js';
import type { FsEvent, TreeState } from './events.js';
import { CrashRecorder } from './recording-fs.js';
import { ACK, builtInWorkloads, WorkloadDriver, type TxnRecord, type Workload } from './workloads.js';

/** Name of the workload that records the recovery of crashed states. */
export const RECOVERY_WORKLOAD = 'recovery';
/** Workloads whose crashed states seed the recovery workload. */
const RECOVERY_SOURCES = ['group-commit', 'pack', 'blobs'];

/** How to run the power-loss harness. */
export interface PowerLossOptions {
  /** The engine (or mixed pair) under test. */
  readonly target: TargetSpec;
  /** Modes to enumerate (default: all three). */
  readonly modes?: readonly CrashMode[];
  /** Seed of the torn / reorder choices (default: random, reported). */
  readonly seed?: number;
  /** Workload names to run (default: all, including 'recovery'). */
  readonly workloads?: readonly string[];
  /** At most this many crash points per recorded run, evenly spaced (default: every crash point). */
  readonly maxPoints?: number;
  /** States per crash point in `torn` and `reorder`, each with its own seed (default 1). */
  readonly variants?: number;
  /** Crashed states per source workload whose recovery is recorded and crashed again (default 2). */
  readonly recoveryBases?: number;
  /** Engine options making a segment seal after a few KiB (default for filestorage2: segmentSize 4096). */
  readonly sealOptions?: Readonly<Record<string, unknown>>;
  /** Parent of the temporary directories (default: the OS temp directory). */
  readonly dir?: string;
  /** Keep the temporary directory when a violation is found. */
  readonly keepOnFailure?: boolean;
  /** Wraps the recording file system before the engine gets it (a test makes fdatasync a no-op there). */
  readonly engineFs?: (recorded: FileSystem) => FileSystem;
  /** Progress lines. */
  readonly onProgress?: (line: string) => void;
}

/** Totals of one run. */
interface Tally {
  states: number;
  checked: number;
  lost: number;
  partial: number;
  unopenable: number;
  unstable: number;
  mutations: number;
  recoveries: number;
  violations: HarnessViolation[];
}

/** Most violations of each kind (lost, partial, unopenable, unstable) kept in the report (the counts go on). */
const MAX_VIOLATIONS_PER_KIND = 20;

/** One recorded run: the log, the initial tree and the transactions it committed. */
interface Recording {
  readonly name: string;
  readonly log: readonly FsEvent[];
  readonly initial: TreeState;
  readonly txns: readonly TxnRecord[];
  readonly target: HarnessTarget;
}

/** Runs the power-loss enumeration; resolves to the report (summary line included). */
export async function runPowerLoss(options: PowerLossOptions): Promise<HarnessReport> {
  const started = Date.now();
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const modes = options.modes ?? CRASH_MODES;
  for (const mode of modes) if (!(CRASH_MODES as readonly string[]).includes(mode)) throw new InvalidArgumentError(`modes: unknown crash mode ${JSON.stringify(mode)} (known: ${CRASH_MODES.join(', ')})`);
  if (options.variants !== undefined && (!Number.isSafeInteger(options.variants) || options.variants < 1)) throw new InvalidArgumentError('variants must be a positive integer');
  if (options.maxPoints !== undefined && (!Number.isSafeInteger(options.maxPoints) || options.maxPoints < 2)) throw new InvalidArgumentError('maxPoints must be an integer of at least 2');
  const base = harnessTarget(options.target);
  const sealOptions = options.sealOptions ?? (base.storageEngine === 'filestorage2' ? { segmentSize: 4096 } : {});
  const all = builtInWorkloads(sealOptions);
  const names = options.workloads ?? [...all.map((w) => w.name), RECOVERY_WORKLOAD];
  for (const name of names) {
    if (name !== RECOVERY_WORKLOAD && !all.some((w) => w.name === name)) {
      throw new InvalidArgumentError(`workloads: unknown workload ${JSON.stringify(name)} (known: ${[...all.map((w) => w.name), RECOVERY_WORKLOAD].join(', ')})`);
    }
  }
  const tally: Tally = { states: 0, checked: 0, lost: 0, partial: 0, unopenable: 0, unstable: 0, mutations: 0, recoveries: 0, violations: [] };
  const work = await mkdtemp(join(options.dir ?? tmpdir(), 'handlerton-powerloss-'));
  let failed = false;
  try {
    for (const [w, workload] of all.entries()) {
      const wanted = names.includes(workload.name);
      const feedsRecovery = names.includes(RECOVERY_WORKLOAD) && RECOVERY_SOURCES.includes(workload.name);
      if (!wanted && !feedsRecovery) continue;
      const target = harnessTarget({ ...options.target, options: { ...(options.target.options ?? {}), ...(workload.options ?? {}) } });
      const recording = await record(workload, target, join(work, `${workload.name}-run`), undefined, [], options.engineFs);
      tally.mutations += mutationCount(recording.log);
      if (wanted) await enumerate(recording, mix32(seed, w), modes, options, tally, join(work, 'state'));
      if (feedsRecovery) await recoverCrashed(recording, mix32(seed, 100 + w), modes, options, tally, work);
      options.onProgress?.(progressLine(workload.name, tally));
    }
  } finally {
    failed = tally.lost + tally.partial + tally.unopenable + tally.unstable > 0;
    if (!(failed && options.keepOnFailure === true)) await rm(work, { recursive: true, force: true });
  }
  const counts = { states: tally.states, lost: tally.lost, partial: tally.partial, unopenable: tally.unopenable };
  const summary = summaryLine('powerloss', base.label, counts, { unstable: tally.unstable, distinct: tally.checked, mutations: tally.mutations, recoveries: tally.recoveries, modes: modes.join(','), seed });
  return {
    harness: 'powerloss',
    engine: base.label,
    ok: !failed && tally.checked > 0,
    counts: { ...counts, unstable: tally.unstable, distinct: tally.checked, mutations: tally.mutations, recoveries: tally.recoveries },
    summary,
    violations: tally.violations,
    durationMs: Date.now() - started,
    seed,
  };
}

function mutationCount(log: readonly FsEvent[]): number {
  return log.filter((e) => e.kind !== 'sync' && e.kind !== 'marker').length;
}

function progressLine(name: string, t: Tally): string {
  return `powerloss: after ${name}: states=${t.states} distinct=${t.checked} lost=${t.lost} partial=${t.partial} unopenable=${t.unopenable} unstable=${t.unstable}`;
}

/** Runs `workload` under a recorder in `dir` (seeded with `initial` when given) and returns the recording. */
async function record(
  workload: Workload,
  target: HarnessTarget,
  dir: string,
  initial: TreeState | undefined,
  previous: readonly TxnRecord[],
  engineFs: PowerLossOptions['engineFs'],
): Promise<Recording> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  if (initial !== undefined) await writeTree(initial, dir);
  const recorder = new CrashRecorder(dir);
  for (const txn of previous) recorder.mark(ACK, txn.index);
  const fs = engineFs === undefined ? recorder.fs : engineFs(recorder.fs);
  const db = await openDatabase(target.config(dir), { fs });
  const driver = new WorkloadDriver(db, (label, value) => recorder.mark(label, value), previous);
  try {
    await workload.run(driver);
  } finally {
    await db.close();
  }
  return { name: workload.name, log: recorder.log, initial: recorder.initial, txns: driver.txns, target };
}

/** The crash points to visit: all of them, or `max` evenly spaced ones (always the first and the last). */
function selectPoints(log: readonly FsEvent[], max: number | undefined): number[] {
  const points = crashPoints(log);
  if (max === undefined || points.length <= max) return points;
  const chosen = new Set<number>();
  for (let i = 0; i < max; i++) chosen.add(points[Math.round((i * (points.length - 1)) / (max - 1))]!);
  return [...chosen];
}

/** Checks the state of every crash point of `recording` in every mode. */
async function enumerate(recording: Recording, seed: number, modes: readonly CrashMode[], options: PowerLossOptions, tally: Tally, stateDir: string): Promise<void> {
  const seen = new Set<string>();
  for (const end of selectPoints(recording.log, options.maxPoints)) {
    const acked = new Set(markersBefore(recording.log, end, ACK));
    for (const [m, mode] of modes.flatMap((mode) => Array.from({ length: mode === 'drop' ? 1 : (options.variants ?? 1) }, () => mode)).entries()) {
      const stateSeed = mix32(seed, end * 64 + m);
      const { tree } = crashState(recording.initial, recording.log, end, mode, stateSeed);
      tally.states++;
      const key = `${treeDigest(tree)}|${[...acked].sort((a, b) => a - b).join(',')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const verdict = await checkTree(tree, recording, acked, stateDir);
      tally.checked++;
      count(tally, verdict, { workload: recording.name, mode, point: end, points: recording.log.length, seed: stateSeed });
    }
  }
}

/** Writes `tree` into a fresh `stateDir` and checks it. */
async function checkTree(tree: TreeState, recording: Recording, acked: ReadonlySet<number>, stateDir: string): Promise<StateVerdict> {
  await rm(stateDir, { recursive: true, force: true });
  await mkdir(stateDir);
  await writeTree(withDeadLockOwners(tree), stateDir);
  return checkState(recording.target.config(stateDir), recording.txns, acked);
}

/** A pid no process can have (above Linux's largest pid_max, 2^22). */
export const DEAD_PID = 4_194_305;

/**
 * The tree with every small file that starts with this process's pid (a pid lock file) rewritten to
 * DEAD_PID: after a real power cut the process that wrote it is gone, here it is the harness itself.
 */
export function withDeadLockOwners(tree: TreeState): TreeState {
  const own = String(process.pid);
  for (const [ino, data] of tree.files) {
    // "<pid>" or "<pid> <token>" (FileStorage2's storage lock)
    if (data.length <= 64 && data.toString('latin1').trim().split(/\s+/)[0] === own) tree.files.set(ino, Buffer.from(`${DEAD_PID}\n`));
  }
  return tree;
}

function count(tally: Tally, verdict: StateVerdict, replay: { workload: string; mode: string; point: number; points: number; seed: number }): void {
  const where = `${replay.workload}, ${replay.mode}, crash point ${replay.point} of ${replay.points}`;
  const add = (kind: string, messages: readonly string[]): void => {
    for (const message of messages.slice(0, 3)) {
      const sameKind = tally.violations.filter((v) => v.message.startsWith(`${kind} (`)).length;
      if (sameKind < MAX_VIOLATIONS_PER_KIND) tally.violations.push({ message: `${kind} (${where}): ${message}`, replay });
    }
  };
  if (verdict.lost.length > 0) tally.lost++;
  if (verdict.partial.length > 0) tally.partial++;
  if (verdict.unopenable !== undefined) tally.unopenable++;
  if (verdict.unstable !== undefined) tally.unstable++;
  add('lost', verdict.lost);
  add('partial', verdict.partial);
  add('unopenable', verdict.unopenable === undefined ? [] : [verdict.unopenable]);
  add('unstable', verdict.unstable === undefined ? [] : [verdict.unstable]);
}

/**
 * A recovery interrupted by a second crash: picks crashed states of `source` (after its first
 * acknowledgement, `torn` and `reorder` in turn) that hold unsynced changes and pass the checks, records the recovery of each (open, one commit, close) and
 * enumerates that recording's crash points. What the crashed state held counts as acknowledged.
 */
async function recoverCrashed(source: Recording, seed: number, modes: readonly CrashMode[], options: PowerLossOptions, tally: Tally, work: string): Promise<void> {
  const wanted = options.recoveryBases ?? 2;
  const firstAck = source.log.findIndex((e) => e.kind === 'marker' && e.label === ACK);
  const points = crashPoints(source.log).filter((p) => p > firstAck);
  const candidates: number[] = [];
  for (let i = 1; i <= wanted; i++) candidates.push(points[Math.floor((i * points.length) / (wanted + 1))]!);
  for (const [b, end] of candidates.entries()) {
    const baseSeed = mix32(seed, b);
    const { tree, info } = crashState(source.initial, source.log, end, b % 2 === 0 ? 'torn' : 'reorder', baseSeed);
    if (info.pending === 0) continue;
    const acked = new Set(markersBefore(source.log, end, ACK));
    const verdict = await checkTree(tree, source, acked, join(work, 'state'));
    if (verdict.unopenable !== undefined || verdict.lost.length + verdict.partial.length > 0) continue; // already counted by the source's own enumeration
    const present = new Set(verdict.present);
    const previous = source.txns.filter((t) => present.has(t.index));
    const workload: Workload = {
      name: `${RECOVERY_WORKLOAD}(${source.name}@${end})`,
      async run(d) {
        await d.commit({ records: 2, overwrite: d.overwritable().slice(0, 1) });
      },
    };
    const recording = await record(workload, source.target, join(work, 'recovery-run'), tree, previous, options.engineFs);
    tally.mutations += mutationCount(recording.log);
    tally.recoveries++;
    await enumerate(recording, mix32(baseSeed, 7), modes, options, tally, join(work, 'state'));
    options.onProgress?.(progressLine(recording.name, tally));
  }
}
