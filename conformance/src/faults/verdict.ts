/**
 * The checks after one faulted run: the error raised is typed, the database reopens on a healthy
 * disk, every acknowledged transaction is present byte for byte, no transaction is half applied,
 * and after a failed fsync/fdatasync the still-open database refused the next commit.
 */
import { openDatabase, type DatabaseConfig } from '@handlerton/framework';
import { CrashModel } from '../crash/verify.js';
import type { WorkloadOutcome } from './sweep-workload.js';

/** The counts one run adds to the sweep's totals. */
export interface RunCounts {
  lost: number;
  partial: number;
  untyped: number;
  unopenable: number;
  /** A failed sync followed by a commit that succeeded on the same open database, or a failed sync nobody reported. */
  unrefused: number;
  hangs: number;
  /** Informational: the commit after a failed sync succeeded, but the engine had removed the file whose sync failed (a discarded pack output). */
  discarded: number;
  /** Informational: a failed sync that never surfaced (the engine may have discarded the file; the power-loss harness judges what it costs). */
  swallowed: number;
}

/** Zero counts. */
export function zeroCounts(): RunCounts {
  return { lost: 0, partial: 0, untyped: 0, unopenable: 0, unrefused: 0, hangs: 0, discarded: 0, swallowed: 0 };
}

/** The verdict of one run: counts and human-readable problems. */
export interface RunVerdict {
  readonly counts: RunCounts;
  readonly problems: string[];
}

/** What the harness knows about the fault it injected in this run. */
export interface FaultFacts {
  /** The fault hit an fsync/fdatasync. */
  readonly syncFailed: boolean;
  /** The fault was injected at all (the operation number was reached). */
  readonly injected: boolean;
  /** The engine removed the file whose sync failed before the probe commit. */
  readonly syncedFileDiscarded?: boolean;
}

/** Checks one run: the outcome the workload reported, then a reopen of `config` with node:fs. */
export async function judgeRun(config: DatabaseConfig, outcome: WorkloadOutcome, facts: FaultFacts): Promise<RunVerdict> {
  const counts = zeroCounts();
  const problems: string[] = [];
  for (const error of [outcome.error, outcome.closeError, outcome.probe.outcome === 'refused' ? outcome.probe.error : undefined]) {
    if (error !== undefined && error.code === undefined) {
      counts.untyped++;
      problems.push(`untyped error from ${error.step}: ${error.message}`);
    }
  }
  if (facts.syncFailed && facts.injected) {
    if (outcome.error === undefined) {
      // not a violation by itself: a prepared or temporary file whose sync failed may simply be dropped
      counts.swallowed++;
    } else if (outcome.error !== undefined && outcome.probe.outcome === 'committed' && facts.syncedFileDiscarded === true) {
      // the file whose sync failed was removed (e.g. a pack output): nothing the database holds depends on it
      counts.discarded++;
    } else if (outcome.error !== undefined && outcome.probe.outcome === 'committed') {
      counts.unrefused++;
      problems.push(`after the failed sync (${outcome.error.step}: ${outcome.error.message}) the same open database accepted commit ${outcome.probe.seq}`);
    }
  }
  const model = new CrashModel(true);
  for (const { seq, tid } of outcome.acknowledged) model.acknowledge(seq, tid);
  if (outcome.probe.outcome === 'committed') model.acknowledge(outcome.probe.seq, outcome.probe.tid);
  let db;
  try {
    db = await openDatabase(config);
  } catch (error) {
    counts.unopenable++;
    problems.push(`the database does not reopen on a healthy disk: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    return { counts, problems };
  }
  try {
    const result = await model.check(db);
    for (const problem of result.problems) {
      if (/lost|backwards|acknowledged/.test(problem)) counts.lost++;
      else counts.partial++;
      problems.push(problem);
    }
  } catch (error) {
    counts.partial++;
    problems.push(`checking the reopened database failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  } finally {
    await db.close().catch((error: unknown) => problems.push(`close after the check failed: ${String(error)}`));
  }
  return { counts, problems };
}
