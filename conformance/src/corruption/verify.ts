/**
 * Opens a damaged copy and reads everything the model knows (every committed state the engine
 * still serves, every object, every blob streamed), then classifies the outcome: detected (a
 * CorruptionError naming a file), cut (a legal torn-tail cut, the rest exact), intact (all bytes
 * equal), silent (wrong or missing bytes without an error), mistyped (another typed error, or a
 * CorruptionError naming no file), untyped (an untyped error or a hang).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { isHandlertonError, openDatabase, type DatabaseConfigObject, type Database, type DatabaseOverrides, type ReadView } from '@handlerton/framework';
import { blobView, recordView, type ExpectedDatabase, type ObjectView } from './workload.js';

/** Outcomes of one damaged state, from worst to best. */
export const OUTCOMES = ['silent', 'untyped', 'mistyped', 'detected', 'cut', 'intact'] as const;
/** One of OUTCOMES. */
export type Outcome = (typeof OUTCOMES)[number];
/** The outcomes that are violations. */
export const BAD_OUTCOMES: ReadonlySet<Outcome> = new Set(['silent', 'untyped', 'mistyped']);

/** What examining one damaged state found. */
export interface Examination {
  readonly outcome: Outcome;
  /** Why (the first finding of the outcome's severity). */
  readonly detail: string;
  /** For `detected`: the CorruptionError named the damaged file itself. */
  readonly namedDamagedFile?: boolean;
  /** For `detected`: the CorruptionError carried an offset. */
  readonly namedOffset?: boolean;
  /**
   * For `cut`: how many of the last transactions recovery dropped. Only the last one can be torn by
   * a crash (each commit was synced before the next began): more means damage lost synced commits
   * without an error (legal for the tail of a log, but reported).
   */
  readonly cutTransactions?: number;
}

/** Keeps the worst finding. */
class Findings {
  #worst: Examination = { outcome: 'intact', detail: 'every byte read as expected' };

  note(found: Examination): void {
    if (OUTCOMES.indexOf(found.outcome) < OUTCOMES.indexOf(this.#worst.outcome)) this.#worst = found;
  }

  get worst(): Examination {
    return this.#worst;
  }
}

/** Classifies an error raised by open, a read or close. */
export function classifyError(error: unknown, during: string, damagedFile: string): Examination {
  const message = error instanceof Error ? error.message : String(error);
  if (isHandlertonError(error, 'HANDLERTON_CORRUPTION')) {
    const { file, offset } = error as { file?: unknown; offset?: unknown };
    if (typeof file !== 'string' || file === '') return { outcome: 'mistyped', detail: `${during}: CorruptionError naming no file: ${message}` };
    return {
      outcome: 'detected',
      detail: `${during}: ${message}`,
      namedDamagedFile: file === damagedFile || file.endsWith(`/${damagedFile}`),
      namedOffset: typeof offset === 'number',
    };
  }
  if (isHandlertonError(error)) return { outcome: 'mistyped', detail: `${during}: ${(error as { code: string }).code} instead of HANDLERTON_CORRUPTION: ${message}` };
  const name = error instanceof Error ? error.constructor.name : typeof error;
  return { outcome: 'untyped', detail: `${during}: untyped ${name}: ${message}` };
}

/** Streams blob `oid` of `view` and returns its view string. */
async function readBlob(view: ReadView, oid: bigint, tid: bigint): Promise<ObjectView> {
  const handle = await (await view.blob(oid)).open('r');
  try {
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      const chunk = await handle.read(16 * 1024);
      if (chunk.length === 0) break;
      hash.update(chunk);
      size += chunk.length;
    }
    return blobView(tid, size, hash.digest('hex'));
  } finally {
    await handle.close();
  }
}

/** Reads every object of `state` in `view`, noting mismatches and errors. */
async function readState(view: ReadView, expected: ExpectedDatabase, index: number, damagedFile: string, findings: Findings): Promise<void> {
  const state = expected.states[index]!;
  for (let i = 0; i < expected.oids.length; i++) {
    const oid = expected.oids[i]!;
    const wanted = state.objects[i]!;
    const where = `state ${index} (tid ${state.tid}) oid ${oid}`;
    try {
      const record = await view.tryRead(oid);
      let actual: ObjectView;
      if (record === undefined) actual = 'absent';
      else if (expected.blobOids.has(oid)) actual = await readBlob(view, oid, record.tid);
      else actual = recordView(record.tid, record.data, record.refs);
      if (actual !== wanted) findings.note({ outcome: 'silent', detail: `${where}: read ${actual}, expected ${wanted}` });
    } catch (error) {
      findings.note(classifyError(error, `reading ${where}`, damagedFile));
    }
  }
}

/** An empty database must hold none of the workload's objects. */
async function readEmpty(db: Database, expected: ExpectedDatabase, damagedFile: string, findings: Findings): Promise<void> {
  const snapshot = await db.snapshot();
  try {
    for (const oid of expected.oids) {
      try {
        const record = await snapshot.tryRead(oid);
        if (record !== undefined) findings.note({ outcome: 'silent', detail: `the database is empty (tid 0) but oid ${oid} reads as tid ${record.tid}` });
      } catch (error) {
        findings.note(classifyError(error, `reading oid ${oid} of the empty database`, damagedFile));
      }
    }
  } finally {
    await snapshot.close();
  }
}

/** Reads every state from `from` to `to` (inclusive) through snapshots. */
async function readStates(db: Database, expected: ExpectedDatabase, from: number, to: number, damagedFile: string, findings: Findings): Promise<void> {
  for (let index = from; index <= to; index++) {
    const latest = index === to;
    let snapshot;
    try {
      snapshot = latest ? await db.snapshot() : await db.snapshot(expected.states[index]!.tid);
    } catch (error) {
      findings.note(classifyError(error, `snapshot of state ${index}`, damagedFile));
      continue;
    }
    try {
      await readState(snapshot, expected, index, damagedFile, findings);
    } finally {
      await snapshot.close().catch((error: unknown) => findings.note(classifyError(error, 'closing a snapshot', damagedFile)));
    }
  }
}

/** What the examination of one copy needs. */
export interface ExamineInput {
  readonly config: DatabaseConfigObject;
  readonly expected: ExpectedDatabase;
  /** The damaged file, relative to `dir`. */
  readonly damagedFile: string;
  readonly dir: string;
  /** Recovery may cut the damage off as a torn tail. */
  readonly tail: boolean;
  readonly overrides?: DatabaseOverrides;
  /** Opens the copy (default: `openDatabase`). */
  readonly open?: (config: DatabaseConfigObject, overrides: DatabaseOverrides) => Promise<Database>;
}

/** Opens the damaged copy, reads everything, and classifies the outcome. */
export async function examine(input: ExamineInput): Promise<Examination> {
  const { expected } = input;
  const damagedPath = join(input.dir, input.damagedFile);
  const findings = new Findings();
  let db: Database;
  try {
    db = await (input.open ?? openDatabase)(input.config, input.overrides ?? {});
  } catch (error) {
    return classifyError(error, 'open', damagedPath);
  }
  try {
    const last = db.lastTransaction();
    // -1: the empty database before the first commit (a WAL or log cut back to nothing).
    const index = last === 0n ? -1 : expected.states.findIndex((state) => state.tid === last);
    const final = expected.states.length - 1;
    if (index < 0 && last !== 0n) {
      findings.note({ outcome: 'silent', detail: `the database opened at tid ${last}, which is no committed state (the last is ${expected.states[final]!.tid})` });
    } else if (index < final && !input.tail) {
      findings.note({ outcome: 'silent', detail: `recovery dropped transactions ${index + 1}..${final} without an error after damage in ${input.damagedFile}, which is not the tail of a log` });
    } else if (index < final) {
      findings.note({ outcome: 'cut', detail: `recovery cut ${final - index} transaction(s) (${index + 1}..${final}) as a torn tail`, cutTransactions: final - index });
    }
    if (index >= 0) await readStates(db, expected, Math.min(expected.historyFrom, index), index, damagedPath, findings);
    else if (last === 0n) await readEmpty(db, expected, damagedPath, findings);
  } catch (error) {
    findings.note(classifyError(error, 'reading', damagedPath));
  } finally {
    await db.close().catch((error: unknown) => findings.note(classifyError(error, 'close', damagedPath)));
  }
  return findings.worst;
}
