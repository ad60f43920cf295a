/**
 * The fault sweep's short deterministic workload (commits with records and blobs, a pack, an
 * external GC, a close and a reopen, more commits), run against one database config and one
 * file-system access. It acknowledges every transaction that committed, stops at the first error
 * the API raises, and can then try one more commit on the same open database (the "refuses writes
 * after a failed sync" probe) before closing.
 */
import { isHandlertonError, openDatabase, type Database, type DatabaseConfig, type FileSystem, type Tid } from '@handlerton/framework';
import { commitTransaction, readWriterState, type WriterState } from '../crash/workload-writer.js';

/** One step of the workload. */
export type SweepStep = { readonly kind: 'commit'; readonly seq: number } | { readonly kind: 'open' | 'close' | 'pack' | 'gc' };

/** The default workload: 6 transactions with blobs, a pack, a GC, a close and a reopen. */
export const SWEEP_STEPS: readonly SweepStep[] = Object.freeze([
  { kind: 'open' },
  { kind: 'commit', seq: 1 },
  { kind: 'commit', seq: 2 },
  { kind: 'commit', seq: 3 },
  { kind: 'pack' },
  { kind: 'commit', seq: 4 },
  { kind: 'gc' },
  { kind: 'commit', seq: 5 },
  { kind: 'close' },
  { kind: 'open' },
  { kind: 'commit', seq: 6 },
  { kind: 'close' },
]);

/** How an error raised by the API is classified. */
export interface RaisedError {
  /** The step that raised it, e.g. `commit 3`, `open`, `pack`. */
  readonly step: string;
  /** The HandlertonError code, or undefined when the error was not typed. */
  readonly code: string | undefined;
  readonly message: string;
}

/** What the probe commit after a failure did. */
export type ProbeResult = { readonly outcome: 'refused'; readonly error: RaisedError } | { readonly outcome: 'committed'; readonly seq: number; readonly tid: Tid } | { readonly outcome: 'none' };

/** What one run of the workload did. */
export interface WorkloadOutcome {
  /** Transactions whose commit returned, with the tid it returned. */
  readonly acknowledged: ReadonlyArray<{ readonly seq: number; readonly tid: Tid }>;
  /** The first error the API raised (the workload stopped there), if any. */
  readonly error: RaisedError | undefined;
  /** The probe commit made after the error (when asked for and the database was open). */
  readonly probe: ProbeResult;
  /** An error raised by close() after the failure, if any. */
  readonly closeError: RaisedError | undefined;
}

/** Options of runSweepWorkload. */
export interface WorkloadOptions {
  readonly config: DatabaseConfig;
  readonly fs: FileSystem;
  readonly steps?: readonly SweepStep[];
  /** Decides, after an error, whether to try another commit on the still-open database. */
  readonly probeAfter?: (error: RaisedError) => boolean;
  /** Called when a commit returned (the child prints its ACK line here). */
  readonly onAck?: (seq: number, tid: Tid) => void | Promise<void>;
}

/** Classifies an error raised by the API. */
export function raised(step: string, error: unknown): RaisedError {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { step, code: isHandlertonError(error) ? error.code : undefined, message };
}

/** Runs the workload; never throws for errors of the engine under test. */
export async function runSweepWorkload(options: WorkloadOptions): Promise<WorkloadOutcome> {
  const acknowledged: Array<{ seq: number; tid: Tid }> = [];
  let db: Database | undefined;
  let state: WriterState = { root: undefined, previousFirst: undefined };
  const blobs = true;
  for (const step of options.steps ?? SWEEP_STEPS) {
    const name = step.kind === 'commit' ? `commit ${step.seq}` : step.kind;
    try {
      if (step.kind === 'open') {
        db = await openDatabase(options.config, { fs: options.fs });
        state = await readWriterState(db);
      } else if (db === undefined) {
        throw new Error(`sweep workload: step ${name} without an open database`);
      } else if (step.kind === 'commit') {
        state = await commitTransaction(db, step.seq, state, blobs);
        const tid = db.lastTransaction();
        acknowledged.push({ seq: step.seq, tid });
        await options.onAck?.(step.seq, tid);
      } else if (step.kind === 'pack') {
        await db.pack();
      } else if (step.kind === 'gc') {
        await db.collectGarbage({ keep: 0 });
      } else {
        const closing = db;
        db = undefined;
        await closing.close();
      }
    } catch (error) {
      const failure = raised(name, error);
      let probe: ProbeResult = { outcome: 'none' };
      if (db !== undefined && options.probeAfter?.(failure) === true) probe = await probeCommit(db, step, state, options.onAck);
      let closeError: RaisedError | undefined;
      if (db !== undefined) closeError = await db.close().then(() => undefined, (e: unknown) => raised('close after the failure', e));
      return { acknowledged, error: failure, probe, closeError };
    }
  }
  return { acknowledged, error: undefined, probe: { outcome: 'none' }, closeError: undefined };
}

/** Re-commits the failed transaction (or the next one) on the same open database. */
async function probeCommit(db: Database, step: SweepStep, state: WriterState, onAck: ((seq: number, tid: Tid) => void | Promise<void>) | undefined): Promise<ProbeResult> {
  const seq = step.kind === 'commit' ? step.seq : (state.root?.seq ?? 0) + 1;
  try {
    await commitTransaction(db, seq, state, true);
    const tid = db.lastTransaction();
    await onAck?.(seq, tid);
    return { outcome: 'committed', seq, tid };
  } catch (error) {
    return { outcome: 'refused', error: raised(`probe commit ${seq}`, error) };
  }
}
