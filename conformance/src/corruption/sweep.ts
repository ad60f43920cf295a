/**
 * The corruption sweep: builds the reference database once (a closed image and a copy taken while
 * it was open), then for each state copies an image, damages one file of a kind chosen so that
 * every kind is covered, opens the copy, reads everything and classifies the outcome.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type Database, type DatabaseConfigObject, type DatabaseOverrides } from '@handlerton/framework';
import { summaryLine, type HarnessReport, type HarnessViolation } from '../harnesses/harness-report.js';
import { harnessTarget, type HarnessTarget, type TargetSpec } from '../harnesses/target.js';
import { applyDamage, describeDamage, planDamage, type Damage, type Image } from './damage.js';
import { classifyImage } from './file-kinds.js';
import { verifyCopy, type VerifyVerdict } from './verify-pass.js';
import { BAD_OUTCOMES, examine, OUTCOMES, type Examination, type Outcome } from './verify.js';
import { buildReferenceDatabase, sweepOptions, type ExpectedDatabase } from './workload.js';

/** Options of `runCorruptionSweep`. */
export interface CorruptionSweepOptions extends TargetSpec {
  /** Damaged states to try (default 200). */
  readonly states?: number;
  /** PRNG seed (random when missing; always reported). */
  readonly seed?: number;
  /** Run only these state numbers (replay). */
  readonly only?: readonly number[];
  /** Where the temporary directories go (default `os.tmpdir()`). */
  readonly dir?: string;
  /** Keep the damaged copy of every state that is a violation (under `dir`). */
  readonly keepFailures?: boolean;
  /** A state that has not finished after this long is a hang (`untyped`); default 60 s. */
  readonly timeoutMs?: number;
  /** Share of states that truncate instead of flipping bytes (default 0.3). */
  readonly truncateRate?: number;
  /**
   * Also run `handlerton verify` (read-only open, the engines' own checks and the generic one) on a
   * second copy of every damaged state, and count what it found (report field `verify`).
   */
  readonly verify?: boolean;
  /** Called after each state (`verdict` with `verify`). */
  readonly onState?: (damage: Damage, result: Examination, verdict?: VerifyVerdict) => void;
  /**
   * Opens the damaged copy (default: the framework's `openDatabase`); lets a test wrap the engine,
   * e.g. to prove that the sweep notices wrong bytes.
   */
  readonly open?: (config: DatabaseConfigObject, overrides: DatabaseOverrides) => Promise<Database>;
}

/** Per-kind counts of a sweep. */
export type KindCounts = Readonly<Record<string, Readonly<Record<Outcome | 'states', number>>>>;

/** The sweep's report: the common HarnessReport plus per-kind counts. */
export interface CorruptionReport extends HarnessReport {
  /** For every kind: states tried and outcomes. */
  readonly kinds: KindCounts;
  /** Detected states whose CorruptionError named the damaged file itself / carried an offset. */
  readonly naming: { readonly detected: number; readonly damagedFile: number; readonly offset: number };
  /** Cut states that dropped only the last transaction / more than that (synced commits lost without an error). */
  readonly cuts: { readonly last: number; readonly synced: number; readonly maxTransactions: number };
  /** With option `verify`: what `handlerton verify` found. */
  readonly verify?: VerifyCounts;
}

/** What the verify pass found: it must flag every state whose reads changed or failed. */
export interface VerifyCounts {
  /** States whose outcome was detected or cut: verify must report a problem for each. */
  readonly required: number;
  /** Of those, the states verify flagged. */
  readonly found: number;
  /** States whose damage nothing reads (outcome intact), and how many of those verify flagged anyway. */
  readonly intact: number;
  readonly intactFlagged: number;
  /** Per kind: required / found / intact / intactFlagged. */
  readonly kinds: Readonly<Record<string, { required: number; found: number; intact: number; intactFlagged: number }>>;
  /** The required states verify missed (damage and verify's answer). */
  readonly missed: readonly string[];
  /** verify on an undamaged copy of each reference image (closed, live): problems found there (must be none). */
  readonly undamaged: Readonly<Record<string, string>>;
}

/** The target with the sweep's default options for built-in engines when none were given. */
export function sweepTarget(spec: TargetSpec): HarnessTarget {
  const blobEngine = spec.blobs ?? spec.engine;
  return harnessTarget({
    ...spec,
    options: spec.options ?? sweepOptions(spec.engine, 'storage'),
    // A mixed pair's blob engine never gets the storage engine's options.
    blobOptions: spec.blobOptions ?? (spec.blobs === undefined ? spec.options : undefined) ?? sweepOptions(blobEngine, 'blobs'),
  });
}

/** Builds the closed and live reference images under `root`. */
async function buildImages(target: HarnessTarget, root: string): Promise<{ images: Image[]; expected: ExpectedDatabase }> {
  const closed = join(root, 'closed');
  const live = join(root, 'live');
  const expected = await buildReferenceDatabase(target, closed, async () => {
    // A killed process's files: FileStorage2's pid lock would name this (live) process, so it is left out.
    await cp(closed, live, { recursive: true, filter: (path) => !path.endsWith('/LOCK') && !path.endsWith('-shm') });
  });
  return {
    expected,
    images: [
      { name: 'closed', dir: closed, regions: await classifyImage(closed) },
      { name: 'live', dir: live, regions: await classifyImage(live) },
    ],
  };
}

/** Runs `promise` with a deadline; a missed deadline becomes `onHang` (default: an `untyped` hang). */
async function withDeadline<T = Examination>(promise: Promise<T>, ms: number, onHang?: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onHang ?? ({ outcome: 'untyped', detail: `hang: no result after ${ms} ms` } as T)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Counts outcomes per kind. */
class Tally {
  readonly outcomes: Record<Outcome, number> = { silent: 0, untyped: 0, mistyped: 0, detected: 0, cut: 0, intact: 0 };
  readonly kinds: Record<string, Record<Outcome | 'states', number>> = {};
  readonly naming = { detected: 0, damagedFile: 0, offset: 0 };
  readonly cuts = { last: 0, synced: 0, maxTransactions: 0 };
  states = 0;
  readonly verify = {
    required: 0,
    found: 0,
    intact: 0,
    intactFlagged: 0,
    kinds: {} as Record<string, { required: number; found: number; intact: number; intactFlagged: number }>,
    missed: [] as string[],
    undamaged: {} as Record<string, string>,
  };

  addVerdict(damage: Damage, result: Examination, verdict: VerifyVerdict): void {
    const row = (this.verify.kinds[damage.kind] ??= { required: 0, found: 0, intact: 0, intactFlagged: 0 });
    if (result.outcome === 'detected' || result.outcome === 'cut') {
      this.verify.required++;
      row.required++;
      if (verdict.found) {
        this.verify.found++;
        row.found++;
      } else this.verify.missed.push(`${describeDamage(damage)}: read ${result.outcome} (${result.detail}); verify: ${verdict.detail}`);
    } else if (result.outcome === 'intact') {
      this.verify.intact++;
      row.intact++;
      if (verdict.found) {
        this.verify.intactFlagged++;
        row.intactFlagged++;
      }
    }
  }

  add(kind: string, result: Examination): void {
    this.states++;
    this.outcomes[result.outcome]++;
    const row = (this.kinds[kind] ??= { states: 0, silent: 0, untyped: 0, mistyped: 0, detected: 0, cut: 0, intact: 0 });
    row.states++;
    row[result.outcome]++;
    if (result.outcome === 'cut') {
      const n = result.cutTransactions ?? 1;
      if (n > 1) this.cuts.synced++;
      else this.cuts.last++;
      this.cuts.maxTransactions = Math.max(this.cuts.maxTransactions, n);
    }
    if (result.outcome === 'detected') {
      this.naming.detected++;
      if (result.namedDamagedFile === true) this.naming.damagedFile++;
      if (result.namedOffset === true) this.naming.offset++;
    }
  }
}

/** Runs the corruption sweep against the engine of `options`; never throws for engine misbehaviour. */
export async function runCorruptionSweep(options: CorruptionSweepOptions): Promise<CorruptionReport> {
  const started = Date.now();
  const target = sweepTarget(options);
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const count = options.states ?? 200;
  const root = await mkdtemp(join(options.dir ?? tmpdir(), `corruption-${target.label}-`));
  const tally = new Tally();
  const violations: HarnessViolation[] = [];
  const stray: unknown[] = [];
  const onStray = (error: unknown): void => {
    stray.push(error);
  };
  process.on('unhandledRejection', onStray);
  process.on('uncaughtException', onStray);
  let keepRoot = false;
  try {
    const { images, expected } = await buildImages(target, join(root, 'reference'));
    const kinds = [...new Set(images.flatMap((image) => image.regions.map((region) => region.kind)))].sort();
    const numbers = options.only ?? Array.from({ length: count }, (_, i) => i);
    if (options.verify === true) {
      for (const image of images) {
        const clean = join(root, `undamaged-${image.name}`);
        await cp(image.dir, clean, { recursive: true });
        tally.verify.undamaged[image.name] = (await verifyCopy(target.config(clean), { logger: silentLogger }, ...(options.open === undefined ? [] : [options.open]))).detail;
        await rm(clean, { recursive: true, force: true });
      }
    }
    for (const state of numbers) {
      const damage = planDamage(seed, state, kinds, images, options.truncateRate);
      const image = images.find((candidate) => candidate.name === damage.image)!;
      const copy = join(root, `state-${state}`);
      await applyDamage(image, damage, copy);
      stray.length = 0;
      const open = options.open;
      let result = await withDeadline(
        examine({
          config: target.config(copy),
          expected,
          damagedFile: damage.file,
          dir: copy,
          tail: damage.tail,
          overrides: { logger: silentLogger },
          ...(open === undefined ? {} : { open }),
        }),
        options.timeoutMs ?? 60_000,
      );
      if (stray.length > 0 && !BAD_OUTCOMES.has(result.outcome)) {
        result = { outcome: 'untyped', detail: `an error escaped the engine's promises: ${String(stray[0])}` };
      }
      tally.add(damage.kind, result);
      let verdict: VerifyVerdict | undefined;
      if (options.verify === true) {
        // a second copy: the examination opened the first one writable (recovery may have cut a tail)
        const verifyDir = join(root, `state-${state}-verify`);
        await applyDamage(image, damage, verifyDir);
        verdict = await withDeadline(verifyCopy(target.config(verifyDir), { logger: silentLogger }, ...(open === undefined ? [] : [open])), options.timeoutMs ?? 60_000, {
          found: false,
          detail: 'verify hung',
        });
        await rm(verifyDir, { recursive: true, force: true });
        tally.addVerdict(damage, result, verdict);
      }
      options.onState?.(damage, result, verdict);
      if (BAD_OUTCOMES.has(result.outcome)) {
        violations.push({
          message: `${result.outcome}: ${describeDamage(damage)}: ${result.detail}`,
          replay: { seed, state, image: damage.image, file: damage.file, kind: damage.kind, mode: damage.mode, offsets: damage.offsets.join(',') },
        });
      }
      if (BAD_OUTCOMES.has(result.outcome) && options.keepFailures === true) keepRoot = true;
      else await rm(copy, { recursive: true, force: true });
    }
  } finally {
    process.off('unhandledRejection', onStray);
    process.off('uncaughtException', onStray);
    if (!keepRoot) await rm(root, { recursive: true, force: true });
  }
  const counts: Record<string, number> = { states: tally.states, silent: tally.outcomes.silent, untyped: tally.outcomes.untyped, mistyped: tally.outcomes.mistyped };
  for (const outcome of OUTCOMES) if (!(outcome in counts)) counts[outcome] = tally.outcomes[outcome];
  const ok = tally.states > 0 && counts['silent'] === 0 && counts['untyped'] === 0 && counts['mistyped'] === 0;
  return {
    harness: 'corruption',
    engine: target.label,
    ok,
    counts,
    summary: summaryLine('corruption', target.label, counts, { seed }),
    violations,
    durationMs: Date.now() - started,
    seed,
    kinds: tally.kinds,
    naming: tally.naming,
    cuts: tally.cuts,
    ...(options.verify === true ? { verify: tally.verify } : {}),
  };
}
