/**
 * runTorture: the torture loop. Each cycle spawns a writer child running 1..32 concurrent
 * committers (records, blobs up to several MiB, overwrites, unlinks, deletes, appends to a shared
 * record) plus packs and garbage collections, SIGKILLs it at a seeded random moment (while it
 * recovers, while it commits, during a pack / GC, after a pack finished, or at a chosen file
 * operation of a pack's last phase), reopens the database twice and checks every
 * acknowledged commit byte for byte and every transaction all-or-nothing (see CRASH.md, "Torture").
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineName, InvalidArgumentError, loadEnginePlugin, openDatabase, resolveConfig, type Database, type DatabaseConfigObject } from '@handlerton/framework';
import { Prng } from '../crash/prng.js';
import { runChild, type ChildKillPlan, type ChildRun } from '../crash/writer-process.js';
import { planCycle, type PlanSettings } from './cycle-plan.js';
import { summaryLine, type HarnessReport, type HarnessViolation } from '../harnesses/harness-report.js';
import type { HarnessTarget } from '../harnesses/target.js';
import { checkTorture, type Problem, type TortureCheck } from './check.js';
import { TortureModel } from './model.js';
import type { PackKillPoint } from './pack-watch.js';
import { parseTortureLine, type MaintenanceOp, type PackOps, type TortureEvent, type TortureSpec } from './protocol.js';
import { MAX_COMMITTERS } from './workload.js';

/** The compiled torture writer module next to this one. */
export const TORTURE_WRITER_MODULE = fileURLToPath(new URL('./writer.js', import.meta.url));

/** Options of runTorture. */
export interface TortureOptions {
  /** The engine (or mixed pair) under test. */
  readonly target: HarnessTarget;
  /** Kill/recover cycles to run. */
  readonly cycles: number;
  /** PRNG seed of the workload and the kill schedule (default: random; always reported). */
  readonly seed?: number;
  /** Shortest and longest delay between the trigger (READY, OPENING, start of a pack/GC) and the kill (default 20 / 600 ms). */
  readonly minKillMs?: number;
  readonly maxKillMs?: number;
  /** Share of cycles killed while the writer opens (recovers) the database (default 0.1). */
  readonly earlyKillRate?: number;
  /** Share of cycles killed during a pack or a garbage collection (default 0.15). */
  readonly maintenanceKillRate?: number;
  /**
   * Every n-th cycle is a pack cycle (default 8; 0: none): its writer (at most 8 committers) runs one
   * pack to its end and is killed 0..maxKillMs after it finished, or, in every second pack cycle,
   * kills itself right before one of the pack's last file operations (pack-watch.ts): two in three
   * of those around the pack's publishing rename, the third after it.
   */
  readonly packCycleEvery?: number;
  /** Most concurrent committers a writer runs (1..32, default 32); each cycle picks 1..this. */
  readonly maxCommitters?: number;
  /** Largest blob a transaction writes (default 4 MiB). */
  readonly maxBlobBytes?: number;
  /** Directory under which the run's temporary database directory is made (default os.tmpdir()). */
  readonly dir?: string;
  /** Modules the writer and the parent import before opening (to register a third-party engine plugin). */
  readonly preload?: readonly string[];
  /** Stop at the first cycle with a violation (default true). */
  readonly stopOnViolation?: boolean;
  /** Keep the database directory when a violation was found (default false). */
  readonly keepOnFailure?: boolean;
  /** Longest time a writer may take to reach its kill trigger (default 60 s). */
  readonly writerTimeoutMs?: number;
  /** Called after every cycle (progress output). */
  readonly onCycle?: (cycle: TortureCycle) => void;
}

/** What one cycle did. */
export interface TortureCycle {
  readonly cycle: number;
  readonly committers: number;
  readonly kill: ChildKillPlan;
  readonly maintenance: readonly MaintenanceOp[];
  /** Acknowledgements this writer printed, and its conflict retries. */
  readonly acknowledged: number;
  readonly conflicts: number;
  /** Packs / GCs this writer finished, and the one it was killed in, if any. */
  readonly maintenanceDone: number;
  readonly killedIn: MaintenanceOp | undefined;
  /** In a pack cycle: the counted file operation planned for the kill inside the pack (undefined: after the pack). */
  readonly packKillAt: number | undefined;
  /** Where the writer killed itself inside a pack, if it did. */
  readonly packKill: PackKillPoint | undefined;
  /** What the writer's last finished watched pack counted. */
  readonly packOps: PackOps | undefined;
  /** Committers whose unacknowledged in-flight transaction was found committed. */
  readonly inFlightCommitted: number;
  /** Milliseconds each openDatabase took in the parent (two reopens). */
  readonly recoveryMs: readonly number[];
  readonly objects: number;
  /** Milliseconds from spawning the writer to its death, and of the two reopens and checks. */
  readonly writerMs: number;
  readonly checkMs: number;
  readonly problems: readonly string[];
}

/** Figures of a run besides the summary counts. */
export interface TortureDetails {
  readonly conflicts: number;
  readonly earlyKills: number;
  readonly maintenanceKills: number;
  readonly killsInPack: number;
  readonly killsInGc: number;
  readonly packs: number;
  readonly gcs: number;
  /** Pack cycles run, those whose writer finished its pack, and the kills inside a pack at a chosen file operation (by call). */
  readonly packCycles: number;
  readonly packCyclesCompleted: number;
  readonly packOpKills: number;
  readonly packOpKillCalls: Readonly<Record<string, number>>;
  readonly inFlightCommitted: number;
  readonly gcRemoved: number;
  readonly creates: number;
  readonly overwrites: number;
  readonly unlinks: number;
  readonly deletes: number;
  readonly sharedAppends: number;
  readonly recoveryMs: { readonly median: number; readonly max: number; readonly samples: number };
  readonly cyclesPerMinute: number;
  /** Directory kept for inspection (keepOnFailure), else undefined. */
  readonly keptDir: string | undefined;
}

/** The torture run's result: the common harness report plus its figures. */
export interface TortureReport extends HarnessReport {
  readonly details: TortureDetails;
}

interface Settings extends PlanSettings {
  readonly cycles: number;
  readonly seed: number;
  readonly minKillMs: number;
  readonly maxKillMs: number;
  readonly earlyKillRate: number;
  readonly maintenanceKillRate: number;
  readonly maxCommitters: number;
  readonly maxBlobBytes: number;
  readonly writerTimeoutMs: number;
  readonly packCycleEvery: number;
  readonly stopOnViolation: boolean;
}

/** Runs the torture loop against `options.target`; see CRASH.md, "Torture". */
export async function runTorture(options: TortureOptions): Promise<TortureReport> {
  const settings = validate(options);
  const base = await mkdtemp(join(options.dir ?? tmpdir(), 'handlerton-torture-'));
  let config: DatabaseConfigObject;
  try {
    config = options.target.config(join(base, 'db'));
    for (const module of options.preload ?? []) await import(module);
    await loadEngines(config);
  } catch (error) {
    await rm(base, { recursive: true, force: true });
    throw error;
  }
  const prng = new Prng(settings.seed);
  const model = new TortureModel(settings.seed, settings.maxBlobBytes);
  const violations: HarnessViolation[] = [];
  const cycles: TortureCycle[] = [];
  const counts = { lost: 0, partial: 0, failedOpens: 0, errors: 0 };
  const started = performance.now();
  let acknowledged = 0;
  let kept: string | undefined;
  // The file operations of the last pack a watched writer finished: where the next kill inside a pack aims.
  let learnedPackOps: PackOps | undefined;
  try {
    for (let cycle = 1; cycle <= settings.cycles; cycle++) {
      const plan = planCycle(prng, settings, cycle, learnedPackOps);
      const spec: TortureSpec = {
        config,
        seed: settings.seed,
        committers: plan.committers,
        maxBlobBytes: settings.maxBlobBytes,
        maintenance: plan.maintenance,
        preload: options.preload ?? [],
        ...(plan.packWatch === undefined ? {} : { packWatch: plan.packWatch }),
      };
      const writerStarted = performance.now();
      const run = await runChild(TORTURE_WRITER_MODULE, JSON.stringify(spec), plan.kill, settings.writerTimeoutMs, parseTortureLine);
      const checkStarted = performance.now();
      const problems: Collected[] = [];
      const writer = absorb(run, model, problems);
      acknowledged += writer.acknowledged;
      if (writer.packOps !== undefined) learnedPackOps = writer.packOps;
      const recoveryMs: number[] = [];
      const first = await reopenAndCheck(config, model, recoveryMs, problems);
      const second = first === undefined ? undefined : await reopenAndCheck(config, model, recoveryMs, problems);
      if (first !== undefined && second !== undefined && first.digest !== second.digest) {
        problems.push({ kind: 'partial', message: `reopening twice gave different states: digest ${first.digest.slice(0, 12)}, then ${second.digest.slice(0, 12)}` });
      }
      for (const problem of problems) {
        counts[problem.kind === 'failedOpens' ? 'failedOpens' : problem.kind]++;
        violations.push({ message: `cycle ${cycle} [${problem.kind === 'failedOpens' ? 'failed_open' : problem.kind}]: ${problem.message}`, replay: { seed: settings.seed, cycle } });
      }
      const report: TortureCycle = {
        cycle,
        committers: plan.committers,
        kill: plan.kill,
        maintenance: plan.maintenance.map((m) => m.op),
        acknowledged: writer.acknowledged,
        conflicts: writer.conflicts,
        maintenanceDone: writer.maintenanceDone,
        killedIn: writer.killedIn,
        packKillAt: plan.packWatch?.killAt,
        packKill: writer.packKill,
        packOps: writer.packOps,
        inFlightCommitted: first?.inFlightCommitted ?? 0,
        recoveryMs,
        objects: second?.objects ?? first?.objects ?? 0,
        writerMs: round(checkStarted - writerStarted),
        checkMs: round(performance.now() - checkStarted),
        problems: problems.map((p) => p.message),
      };
      cycles.push(report);
      options.onCycle?.(report);
      if (problems.length > 0 && settings.stopOnViolation) break;
    }
  } finally {
    if (violations.length > 0 && options.keepOnFailure === true) kept = base;
    else await rm(base, { recursive: true, force: true });
  }
  return buildReport(options.target.label, settings, cycles, model, counts, acknowledged, violations, performance.now() - started, kept);
}

type Collected = Problem | { kind: 'failedOpens' | 'errors'; message: string };

/** Takes the writer's lines into the model; returns what it did. */
function absorb(run: ChildRun<TortureEvent>, model: TortureModel, problems: Collected[]): Absorbed {
  let acknowledged = 0;
  let conflicts = 0;
  let maintenanceDone = 0;
  let killedIn: MaintenanceOp | undefined;
  let packKill: PackKillPoint | undefined;
  let packOps: PackOps | undefined;
  let ready = false;
  for (const event of run.events) {
    if (event.type === 'init') {
      if (model.initAck !== undefined || model.initTid !== undefined) problems.push({ kind: 'partial', message: `the writer laid out the database again (tid ${event.tid}): the layout committed by ${model.initTid ?? model.initAck} was not found` });
      model.initAck = event.tid;
    } else if (event.type === 'ready') {
      ready = true;
      if (model.deletes !== undefined && model.deletes !== event.deletes) problems.push({ kind: 'errors', message: 'the engine changed its externalGC capability between writers' });
      model.deletes = event.deletes;
      const expected = model.committers.map((c) => c.last);
      if (event.seqs.length !== MAX_COMMITTERS || event.seqs.some((seq, c) => seq !== expected[c])) {
        problems.push({ kind: 'lost', message: `the writer found committers at [${event.seqs.join(',')}], the parent recovered [${expected.join(',')}]: it does not continue from the recovered state` });
      }
    } else if (event.type === 'ack') {
      if (event.c >= MAX_COMMITTERS) {
        problems.push({ kind: 'errors', message: `ACK from committer ${event.c}` });
        continue;
      }
      const problem = model.apply(event.c, event.seq, event.tid, event.created);
      if (problem !== undefined) problems.push({ kind: 'errors', message: `acknowledgement: ${problem}` });
      else model.committer(event.c).acked = event.seq;
      acknowledged++;
      conflicts += event.attempts - 1;
    } else if (event.type === 'maint') {
      killedIn = event.op;
    } else if (event.type === 'mainted') {
      killedIn = undefined;
      maintenanceDone++;
      if (event.ops !== undefined) packOps = event.ops;
    } else if (event.type === 'packkill') {
      packKill = { op: event.op, call: event.call, file: event.file };
    } else if (event.type === 'fail') {
      problems.push({ kind: ready ? 'errors' : 'failedOpens', message: `the writer failed${ready ? '' : ' to open the database'}: ${event.message}` });
    } else if (event.type === 'unknown') {
      problems.push({ kind: 'errors', message: `unexpected writer output: ${event.line.slice(0, 200)}` });
    }
  }
  if (run.timedOut) problems.push({ kind: ready ? 'errors' : 'failedOpens', message: `the writer did not reach its kill point within the time limit; stderr: ${run.stderr.trim().slice(-500)}` });
  else if (!run.killed && !(packKill !== undefined && run.signal === 'SIGKILL') && !run.events.some((e) => e.type === 'fail')) problems.push({ kind: 'errors', message: `the writer exited by itself (code ${run.exitCode}, signal ${run.signal}); stderr: ${run.stderr.trim().slice(-500)}` });
  return { acknowledged, conflicts, maintenanceDone, killedIn, packKill, packOps };
}

interface Absorbed {
  readonly acknowledged: number;
  readonly conflicts: number;
  readonly maintenanceDone: number;
  readonly killedIn: MaintenanceOp | undefined;
  readonly packKill: PackKillPoint | undefined;
  readonly packOps: PackOps | undefined;
}

/** Opens the database (timed), checks it against the model, closes it; undefined when it would not open. */
async function reopenAndCheck(config: DatabaseConfigObject, model: TortureModel, recoveryMs: number[], problems: Collected[]): Promise<TortureCheck | undefined> {
  const started = performance.now();
  let db: Database;
  try {
    db = await openDatabase(config);
  } catch (error) {
    problems.push({ kind: 'failedOpens', message: `the database does not open after the kill: ${describe(error)}` });
    return undefined;
  }
  recoveryMs.push(round(performance.now() - started));
  try {
    const result = await checkTorture(db, model);
    problems.push(...result.problems);
    return result;
  } catch (error) {
    problems.push({ kind: 'partial', message: `checking the recovered database failed: ${describe(error)}` });
    return undefined;
  } finally {
    await db.close();
  }
}

function buildReport(
  label: string,
  settings: Settings,
  cycles: readonly TortureCycle[],
  model: TortureModel,
  counts: { lost: number; partial: number; failedOpens: number; errors: number },
  acknowledged: number,
  violations: HarnessViolation[],
  durationMs: number,
  kept: string | undefined,
): TortureReport {
  const summaryCounts = { cycles: cycles.length, acknowledged, lost: counts.lost, partial: counts.partial, failed_opens: counts.failedOpens };
  const recovery = cycles.flatMap((c) => c.recoveryMs).sort((a, b) => a - b);
  const killedIn = (op: MaintenanceOp): number => cycles.filter((c) => c.killedIn === op).length;
  const totals = maintenanceTotals(cycles);
  const extra: Record<string, number> = { ...(counts.errors > 0 ? { errors: counts.errors } : {}), packs: totals.packs, killed_in_pack: killedIn('pack'), seed: settings.seed };
  const packCycles = cycles.filter((c) => c.kill.after === 'mainted');
  const packOpKillCalls: Record<string, number> = {};
  for (const c of cycles) if (c.packKill !== undefined) packOpKillCalls[c.packKill.call] = (packOpKillCalls[c.packKill.call] ?? 0) + 1;
  const details: TortureDetails = {
    conflicts: cycles.reduce((sum, c) => sum + c.conflicts, 0),
    earlyKills: cycles.filter((c) => c.kill.after === 'opening').length,
    maintenanceKills: cycles.filter((c) => c.kill.after === 'maint').length,
    killsInPack: killedIn('pack'),
    killsInGc: killedIn('gc'),
    ...totals,
    packCycles: packCycles.length,
    packCyclesCompleted: packCycles.filter((c) => c.maintenanceDone > 0).length,
    packOpKills: cycles.filter((c) => c.packKill !== undefined).length,
    packOpKillCalls,
    inFlightCommitted: model.stats.inFlightCommitted,
    gcRemoved: model.stats.gcRemoved,
    creates: model.stats.creates,
    overwrites: model.stats.overwrites,
    unlinks: model.stats.unlinks,
    deletes: model.stats.deletes,
    sharedAppends: model.stats.sharedAppends,
    recoveryMs: { median: recovery[Math.floor(recovery.length / 2)] ?? 0, max: recovery[recovery.length - 1] ?? 0, samples: recovery.length },
    cyclesPerMinute: round((cycles.length * 60_000) / durationMs),
    keptDir: kept,
  };
  const ok = violations.length === 0 && cycles.length === settings.cycles && acknowledged > 0;
  return {
    harness: 'torture',
    engine: label,
    ok,
    counts: summaryCounts,
    summary: summaryLine('torture', label, summaryCounts, extra),
    violations,
    durationMs: Math.round(durationMs),
    seed: settings.seed,
    ...(acknowledged === 0 && violations.length === 0 ? { notVerified: 'no writer acknowledged a commit: the kill delays are too short for this machine' } : {}),
    details,
  };
}

function maintenanceTotals(cycles: readonly TortureCycle[]): { packs: number; gcs: number } {
  // MAINTED lines are counted per cycle; which op each was is in the plan (done in order).
  let packs = 0;
  let gcs = 0;
  for (const c of cycles) {
    c.maintenance.slice(0, c.maintenanceDone).forEach((op) => (op === 'pack' ? packs++ : gcs++));
  }
  return { packs, gcs };
}

function validate(options: TortureOptions): Settings {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  const minKillMs = options.minKillMs ?? 20;
  const maxKillMs = options.maxKillMs ?? 600;
  const earlyKillRate = options.earlyKillRate ?? 0.1;
  const maintenanceKillRate = options.maintenanceKillRate ?? 0.15;
  const maxCommitters = options.maxCommitters ?? MAX_COMMITTERS;
  const maxBlobBytes = options.maxBlobBytes ?? 4 * 1024 * 1024;
  const writerTimeoutMs = options.writerTimeoutMs ?? 60_000;
  const packCycleEvery = options.packCycleEvery ?? 8;
  if (typeof options.target?.config !== 'function') throw new InvalidArgumentError('target must be a HarnessTarget (see harnessTarget())');
  if (!Number.isSafeInteger(options.cycles) || options.cycles < 1) throw new InvalidArgumentError(`cycles must be a positive integer, got ${options.cycles}`);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new InvalidArgumentError(`seed must be an integer in [0, 2^32), got ${seed}`);
  if (!Number.isFinite(minKillMs) || minKillMs < 0 || !Number.isFinite(maxKillMs) || maxKillMs < minKillMs) {
    throw new InvalidArgumentError(`need 0 <= minKillMs <= maxKillMs, got ${minKillMs} and ${maxKillMs}`);
  }
  if (!(earlyKillRate >= 0 && maintenanceKillRate >= 0 && earlyKillRate + maintenanceKillRate <= 1)) {
    throw new InvalidArgumentError(`earlyKillRate and maintenanceKillRate must be >= 0 with a sum <= 1, got ${earlyKillRate} and ${maintenanceKillRate}`);
  }
  if (!Number.isSafeInteger(maxCommitters) || maxCommitters < 1 || maxCommitters > MAX_COMMITTERS) throw new InvalidArgumentError(`maxCommitters must be an integer in [1, ${MAX_COMMITTERS}], got ${maxCommitters}`);
  if (!Number.isSafeInteger(maxBlobBytes) || maxBlobBytes < 0) throw new InvalidArgumentError(`maxBlobBytes must be a non-negative integer, got ${maxBlobBytes}`);
  if (!Number.isSafeInteger(packCycleEvery) || packCycleEvery < 0) throw new InvalidArgumentError(`packCycleEvery must be a non-negative integer, got ${packCycleEvery}`);
  if (!(writerTimeoutMs > 0)) throw new InvalidArgumentError(`writerTimeoutMs must be positive, got ${writerTimeoutMs}`);
  return { cycles: options.cycles, seed, minKillMs, maxKillMs, earlyKillRate, maintenanceKillRate, maxCommitters, maxBlobBytes, writerTimeoutMs, packCycleEvery, stopOnViolation: options.stopOnViolation ?? true };
}

/** Loads the engine modules once, so the first timed reopen measures recovery, not module loading. */
async function loadEngines(config: DatabaseConfigObject): Promise<void> {
  const resolved = resolveConfig(config);
  for (const engine of [resolved.storage.engine, resolved.blobs.engine]) {
    if (typeof engine === 'string') await loadEnginePlugin(engineName(engine));
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}`;
  }
  return String(error);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
