/**
 * runKillLoop: the kill -9 crash test for any engine. Each cycle spawns a writer child that
 * commits the deterministic workload, SIGKILLs it after a seeded random delay, reopens the
 * database in this process twice and checks the invariants (acknowledged commits present and
 * byte-identical, a gap-free prefix of the commit order, no partial transaction, the same state on
 * both reopens, and the next writer continuing from the recovered state).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineName, InvalidArgumentError, loadEnginePlugin, openDatabase, resolveConfig, type Database, type DatabaseConfigObject } from '@handlerton/framework';
import { Prng } from './prng.js';
import type { WriterSpec } from './protocol.js';
import { CrashModel, type CheckResult } from './verify.js';
import { runWriter, type KillPlan, type WriterRun } from './writer-process.js';

/** Options of runKillLoop. */
export interface KillLoopOptions {
  /** The database config for a fresh directory (JSON-serialisable: engines named by string). */
  readonly config: (dir: string) => string | DatabaseConfigObject;
  /** Kill/recover cycles to run. */
  readonly cycles: number;
  /** PRNG seed for the kill delays (default: random; printed in the report and on failure). */
  readonly seed?: number;
  /** Shortest delay between the writer's READY and the kill (default 5 ms). */
  readonly minKillMs?: number;
  /** Longest delay between the writer's READY and the kill (default 150 ms). */
  readonly maxKillMs?: number;
  /** Write a 64-448 KiB blob in every transaction and rewrite a shared blob every third one. */
  readonly blobs?: boolean;
  /** Have the writer run db.pack() after every `packEvery`-th transaction (default 0: never). */
  readonly packEvery?: number;
  /** Directory under which the loop's temporary database directory is made (default os.tmpdir()). */
  readonly dir?: string;
  /** Share of cycles killed while the writer is still opening (recovering) the database (default 0.1). */
  readonly earlyKillRate?: number;
  /**
   * Share of the other cycles whose kill delay counts from the writer's first acknowledged commit
   * instead of READY (default 0), so that a slow machine still sees commits in flight when it kills.
   */
  readonly ackKillRate?: number;
  /** Modules the writer imports before opening (to register a third-party engine plugin). */
  readonly preload?: readonly string[];
  /** Stop at the first cycle with a violation (default true). */
  readonly stopOnViolation?: boolean;
  /** Keep the database directory when a violation was found (default false). */
  readonly keepOnFailure?: boolean;
  /** Longest time a writer may take to open the database (default 30 s). */
  readonly writerTimeoutMs?: number;
  /** Called after every cycle (progress output). */
  readonly onCycle?: (cycle: CycleReport) => void;
}

/** What one cycle did. */
export interface CycleReport {
  readonly cycle: number;
  readonly kill: KillPlan;
  /** Transaction the writer found when it opened (undefined when killed before READY). */
  readonly startSeq: number | undefined;
  /** Acknowledgements this writer printed. */
  readonly acknowledged: number;
  /** Packs this writer finished, and whether it was killed in the middle of one. */
  readonly packs: number;
  readonly killedInPack: boolean;
  /** Last transaction present after recovery. */
  readonly recoveredSeq: number;
  /** True when the unacknowledged in-flight transaction turned out to be committed. */
  readonly unacknowledgedRecovered: boolean;
  /** Milliseconds each openDatabase took in the parent (two reopens). */
  readonly recoveryMs: readonly number[];
  readonly objects: number;
  /** Milliseconds from spawning the writer to its death. */
  readonly writerMs: number;
  /** Milliseconds of the two reopens and checks. */
  readonly checkMs: number;
}

/** A broken invariant. */
export interface Violation {
  readonly cycle: number;
  readonly seed: number;
  readonly message: string;
}

/** The loop's result. */
export interface KillLoopReport {
  readonly config: string;
  readonly seed: number;
  readonly cycles: number;
  /** Cycles in which the writer acknowledged at least one commit before the kill. */
  readonly cyclesWithCommits: number;
  /** Cycles killed while the writer was opening the database. */
  readonly earlyKills: number;
  /** Packs the writers finished, and cycles killed in the middle of a pack. */
  readonly packs: number;
  readonly killsInPack: number;
  /** Commits acknowledged by all writers. */
  readonly acknowledged: number;
  /** Transactions present at the end (acknowledged plus recovered in-flight ones). */
  readonly committed: number;
  /** Cycles whose unacknowledged in-flight transaction was found committed. */
  readonly inFlightRecovered: number;
  readonly recoveryMs: { readonly median: number; readonly max: number; readonly samples: number };
  readonly durationMs: number;
  readonly cyclesPerMinute: number;
  readonly violations: readonly Violation[];
  readonly ok: boolean;
  /** Directory kept for inspection (keepOnFailure), else undefined. */
  readonly keptDir: string | undefined;
}

/** Runs the kill -9 loop against the engine(s) `options.config` names; see CRASH.md. */
export async function runKillLoop(options: KillLoopOptions): Promise<KillLoopReport> {
  const settings = validate(options);
  const base = await mkdtemp(join(options.dir ?? tmpdir(), 'handlerton-crash-'));
  let config: string | DatabaseConfigObject;
  let spec: WriterSpec;
  try {
    config = options.config(join(base, 'db'));
    assertSerialisable(config);
    spec = { config, blobs: options.blobs ?? false, packEvery: options.packEvery ?? 0, preload: options.preload ?? [] };
    for (const module of spec.preload) await import(module);
    await loadEngines(config);
  } catch (error) {
    await rm(base, { recursive: true, force: true });
    throw error;
  }
  const prng = new Prng(settings.seed);
  const model = new CrashModel(spec.blobs);
  const violations: Violation[] = [];
  const cycles: CycleReport[] = [];
  const recovery: number[] = [];
  const started = performance.now();
  let acknowledged = 0;
  let kept: string | undefined;
  try {
    for (let cycle = 1; cycle <= settings.cycles; cycle++) {
      const early = prng.next() < settings.earlyKillRate;
      const kill: KillPlan = early
        ? { after: 'opening', delayMs: prng.int(0, settings.maxKillMs) }
        : { after: settings.ackKillRate > 0 && prng.next() < settings.ackKillRate ? 'ack' : 'ready', delayMs: prng.int(settings.minKillMs, settings.maxKillMs) };
      const problems: string[] = [];
      const writerStarted = performance.now();
      const run = await runWriter(spec, kill, settings.writerTimeoutMs);
      const checkStarted = performance.now();
      const writer = absorb(run, model, problems);
      acknowledged += writer.acknowledged;
      const recoveredBefore = model.lastSeq;
      const recoveryMs: number[] = [];
      const first = await reopenAndCheck(config, model, recoveryMs, problems);
      const second = first === undefined ? undefined : await reopenAndCheck(config, model, recoveryMs, problems);
      if (first !== undefined && second !== undefined && (first.digest !== second.digest || first.seq !== second.seq)) {
        problems.push(`reopening twice gave different states: transaction ${first.seq} digest ${first.digest.slice(0, 12)}, then ${second.seq} digest ${second.digest.slice(0, 12)}`);
      }
      const checkMs = round(performance.now() - checkStarted);
      recovery.push(...recoveryMs);
      const recoveredSeq = second?.seq ?? first?.seq ?? model.lastSeq;
      const report: CycleReport = {
        cycle,
        kill,
        startSeq: writer.startSeq,
        acknowledged: writer.acknowledged,
        packs: writer.packs,
        killedInPack: writer.killedInPack,
        recoveredSeq,
        unacknowledgedRecovered: recoveredSeq > Math.max(model.ackedSeq, recoveredBefore),
        recoveryMs,
        objects: second?.objects ?? first?.objects ?? 0,
        writerMs: round(checkStarted - writerStarted),
        checkMs,
      };
      cycles.push(report);
      for (const message of problems) violations.push({ cycle, seed: settings.seed, message });
      options.onCycle?.(report);
      if (problems.length > 0 && settings.stopOnViolation) break;
    }
  } finally {
    if (violations.length > 0 && options.keepOnFailure === true) kept = base;
    else await rm(base, { recursive: true, force: true });
  }
  const durationMs = performance.now() - started;
  const sorted = [...recovery].sort((a, b) => a - b);
  return {
    config: typeof config === 'string' ? config : JSON.stringify(config),
    seed: settings.seed,
    cycles: cycles.length,
    cyclesWithCommits: cycles.filter((c) => c.acknowledged > 0).length,
    earlyKills: cycles.filter((c) => c.kill.after === 'opening').length,
    packs: cycles.reduce((sum, c) => sum + c.packs, 0),
    killsInPack: cycles.filter((c) => c.killedInPack).length,
    acknowledged,
    committed: model.lastSeq,
    inFlightRecovered: cycles.filter((c) => c.unacknowledgedRecovered).length,
    recoveryMs: { median: round(sorted[Math.floor(sorted.length / 2)] ?? 0), max: round(sorted[sorted.length - 1] ?? 0), samples: sorted.length },
    durationMs: Math.round(durationMs),
    cyclesPerMinute: round((cycles.length * 60_000) / durationMs),
    violations,
    ok: violations.length === 0,
    keptDir: kept,
  };
}

/** A one-paragraph summary of a report, with the seed to replay a failure. */
export function formatKillLoopReport(report: KillLoopReport): string {
  const head =
    `kill loop ${report.config}: ${report.cycles} cycles (${report.earlyKills} killed while opening, ${report.cyclesWithCommits} with commits), ` +
    `${report.acknowledged} commits acknowledged,${report.packs + report.killsInPack > 0 ? ` ${report.packs} packs (${report.killsInPack} killed mid-pack),` : ''} ${report.committed} transactions committed (${report.inFlightRecovered} in-flight ones recovered), ` +
    `recovery median ${report.recoveryMs.median} ms max ${report.recoveryMs.max} ms over ${report.recoveryMs.samples} reopens, ` +
    `${report.cyclesPerMinute} cycles/min, seed ${report.seed}`;
  if (report.ok) return `${head}: OK`;
  const lines = report.violations.slice(0, 20).map((v) => `  cycle ${v.cycle} (seed ${v.seed}): ${v.message}`);
  return `${head}: ${report.violations.length} VIOLATION(S)\n${lines.join('\n')}${report.keptDir === undefined ? '' : `\n  database kept in ${report.keptDir}`}`;
}

interface Settings {
  readonly cycles: number;
  readonly seed: number;
  readonly minKillMs: number;
  readonly maxKillMs: number;
  readonly earlyKillRate: number;
  readonly ackKillRate: number;
  readonly writerTimeoutMs: number;
  readonly stopOnViolation: boolean;
}

function validate(options: KillLoopOptions): Settings {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  const minKillMs = options.minKillMs ?? 5;
  const maxKillMs = options.maxKillMs ?? 150;
  const earlyKillRate = options.earlyKillRate ?? 0.1;
  const ackKillRate = options.ackKillRate ?? 0;
  const writerTimeoutMs = options.writerTimeoutMs ?? 30_000;
  if (typeof options.config !== 'function') throw new InvalidArgumentError('config must be a function of the database directory');
  if (!Number.isSafeInteger(options.cycles) || options.cycles < 1) throw new InvalidArgumentError(`cycles must be a positive integer, got ${options.cycles}`);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new InvalidArgumentError(`seed must be an integer in [0, 2^32), got ${seed}`);
  if (!Number.isFinite(minKillMs) || minKillMs < 0 || !Number.isFinite(maxKillMs) || maxKillMs < minKillMs) {
    throw new InvalidArgumentError(`need 0 <= minKillMs <= maxKillMs, got ${minKillMs} and ${maxKillMs}`);
  }
  if (!(earlyKillRate >= 0 && earlyKillRate <= 1)) throw new InvalidArgumentError(`earlyKillRate must be in [0, 1], got ${earlyKillRate}`);
  if (!(ackKillRate >= 0 && ackKillRate <= 1)) throw new InvalidArgumentError(`ackKillRate must be in [0, 1], got ${ackKillRate}`);
  const packEvery = options.packEvery ?? 0;
  if (!Number.isSafeInteger(packEvery) || packEvery < 0) throw new InvalidArgumentError(`packEvery must be a non-negative integer, got ${packEvery}`);
  if (!(writerTimeoutMs > 0)) throw new InvalidArgumentError(`writerTimeoutMs must be positive, got ${writerTimeoutMs}`);
  return { cycles: options.cycles, seed, minKillMs, maxKillMs, earlyKillRate, ackKillRate, writerTimeoutMs, stopOnViolation: options.stopOnViolation ?? true };
}

function assertSerialisable(config: string | DatabaseConfigObject): void {
  const check = (value: unknown, path: string): void => {
    if (typeof value === 'function' || typeof value === 'bigint' || typeof value === 'symbol') {
      throw new InvalidArgumentError(`config.${path} cannot be passed to the writer process: name engines by string (built-in name or package)`);
    }
    if (typeof value === 'object' && value !== null) for (const [key, inner] of Object.entries(value)) check(inner, path === '' ? key : `${path}.${key}`);
  };
  check(config, '');
}

/** Loads the engine modules once, so the first timed reopen measures recovery, not module loading. */
async function loadEngines(config: string | DatabaseConfigObject): Promise<void> {
  const resolved = resolveConfig(config);
  for (const engine of [resolved.storage.engine, resolved.blobs.engine]) {
    if (typeof engine === 'string') await loadEnginePlugin(engineName(engine));
  }
}

/** Takes the writer's lines into the model; returns what it did. */
function absorb(run: WriterRun, model: CrashModel, problems: string[]): { startSeq: number | undefined; acknowledged: number; packs: number; killedInPack: boolean } {
  let startSeq: number | undefined;
  let acknowledged = 0;
  let packs = 0;
  let inPack = false;
  let expected: number | undefined;
  for (const event of run.events) {
    if (event.type === 'ready') {
      startSeq = event.seq;
      expected = event.seq + 1;
      if (event.seq !== model.lastSeq) problems.push(`the writer found transaction ${event.seq} at open, the parent recovered ${model.lastSeq}: it does not continue from the recovered state`);
    } else if (event.type === 'ack') {
      if (event.seq !== expected) problems.push(`writer acknowledged transaction ${event.seq}, expected ${expected ?? 'READY first'}`);
      expected = event.seq + 1;
      model.acknowledge(event.seq, event.tid);
      acknowledged++;
    } else if (event.type === 'pack') {
      inPack = !event.done;
      if (event.done) packs++;
    } else if (event.type === 'fail') {
      problems.push(`the writer failed: ${event.message}`);
    } else if (event.type === 'unknown') {
      problems.push(`unexpected writer output: ${event.line.slice(0, 200)}`);
    }
  }
  if (run.timedOut) problems.push(`the writer did not open the database within the time limit; stderr: ${run.stderr.trim().slice(-500)}`);
  else if (!run.killed) problems.push(`the writer exited by itself (code ${run.exitCode}, signal ${run.signal}); stderr: ${run.stderr.trim().slice(-500)}`);
  return { startSeq, acknowledged, packs, killedInPack: inPack };
}

/** Opens the database (timed), checks it against the model, closes it; undefined when it would not open. */
async function reopenAndCheck(config: string | DatabaseConfigObject, model: CrashModel, recoveryMs: number[], problems: string[]): Promise<CheckResult | undefined> {
  const started = performance.now();
  let db: Database;
  try {
    db = await openDatabase(config);
  } catch (error) {
    problems.push(`the database does not open after the kill: ${describe(error)}`);
    return undefined;
  }
  recoveryMs.push(round(performance.now() - started));
  try {
    const result = await model.check(db);
    problems.push(...result.problems);
    return result;
  } catch (error) {
    problems.push(`checking the recovered database failed: ${describe(error)}`);
    return undefined;
  } finally {
    await db.close();
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
