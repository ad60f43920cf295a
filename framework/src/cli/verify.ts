/**
 * The checks behind `handlerton verify`: the engines' own checks (`Storage.verify`,
 * `BlobHandlerton.verify`, when they have them) and the generic check through the contracts, which
 * iterates every transaction, reads every record the iterator yields, reads every referenced blob
 * revision to its end and checks that every object reference names an object the history contains.
 * The generic check works on any engine with an iterator.
 */
import type { BlobHandlerton } from '../contracts/blob-handlerton.js';
import { NotSupportedError } from '../contracts/errors.js';
import { toHex, type Oid } from '../contracts/ids.js';
import type { BlobRef } from '../contracts/records.js';
import type { Storage } from '../contracts/storage.js';
import type { EngineVerifyReport, VerifyObserver } from '../contracts/verify.js';

/** One problem found: where, and what (`file` and `offset` when an engine's own check knows them). */
export interface VerifyProblem {
  readonly at: string;
  readonly message: string;
  /** The check that found it: `generic`, or `storage` / `blobs` (an engine's own check). */
  readonly check?: 'generic' | 'storage' | 'blobs';
  readonly file?: string;
  readonly offset?: number;
}

/** What `verify` checked and found. */
export interface VerifyResult {
  readonly transactions: number;
  readonly records: number;
  readonly blobRevisions: number;
  readonly blobBytes: number;
  /** Every problem: the engines' own checks' first, then the generic check's. */
  readonly problems: readonly VerifyProblem[];
  /** The engines' own checks that ran (none for engines without `verify`). */
  readonly engineChecks?: readonly (EngineVerifyReport & { readonly role: 'storage' | 'blobs' })[];
}

const READ_CHUNK = 1024 * 1024;
const MAX_PROBLEMS = 1000;

/** A storage as the framework wraps it (`engineVerify`) or a bare engine (`verify`). */
type VerifiableStorage = Storage & { engineVerify?(observer?: VerifyObserver): Promise<EngineVerifyReport | undefined> };

/** The problems of an engine's report as VerifyProblems. */
function engineProblems(role: 'storage' | 'blobs', report: EngineVerifyReport): VerifyProblem[] {
  return report.problems.map((p) => ({
    at: p.offset === undefined ? `${role} ${report.engine}: ${p.file}` : `${role} ${report.engine}: ${p.file} @${p.offset}`,
    message: p.message,
    check: role,
    file: p.file,
    ...(p.offset === undefined ? {} : { offset: p.offset }),
  }));
}

/** Runs one engine's own check; a check that throws is itself a problem. */
async function engineCheck(
  role: 'storage' | 'blobs',
  name: string,
  run: (() => Promise<EngineVerifyReport | undefined>) | undefined,
): Promise<(EngineVerifyReport & { role: 'storage' | 'blobs' }) | undefined> {
  if (run === undefined) return undefined;
  try {
    const report = await run();
    return report === undefined ? undefined : { ...report, role };
  } catch (error) {
    const file = (error as { file?: unknown }).file;
    const offset = (error as { offset?: unknown }).offset;
    const problem = {
      file: typeof file === 'string' ? file : '',
      ...(typeof offset === 'number' ? { offset } : {}),
      message: `the ${role} check failed: ${error instanceof Error ? error.message : String(error)}`,
    };
    return { engine: name, role, checked: {}, problems: [problem] };
  }
}

/**
 * Runs the engines' own checks (when they have them) and the generic check, and merges the
 * reports: `problems` holds all of them, `engineChecks` what each engine check did.
 */
export async function verifyAll(
  engines: { readonly storage: VerifiableStorage; readonly blobs: BlobHandlerton },
  onTransaction: (checked: number) => void = () => {},
  observer: VerifyObserver = {},
): Promise<VerifyResult> {
  const { storage, blobs } = engines;
  const runStorage = storage.engineVerify !== undefined ? () => storage.engineVerify!(observer) : storage.verify === undefined ? undefined : () => storage.verify!(observer);
  const runBlobs = blobs.verify === undefined ? undefined : () => blobs.verify!(observer);
  const reports = [await engineCheck('storage', storage.name, runStorage), await engineCheck('blobs', blobs.name, runBlobs)].filter(
    (r): r is EngineVerifyReport & { role: 'storage' | 'blobs' } => r !== undefined,
  );
  const generic = await verifyDatabase(engines, onTransaction);
  return {
    ...generic,
    problems: [...reports.flatMap((r) => engineProblems(r.role, r)), ...generic.problems.map((p) => ({ ...p, check: 'generic' as const }))],
    engineChecks: reports,
  };
}

/** Checks a database through its engines' contracts; collects problems instead of stopping at the first. */
export async function verifyDatabase(
  engines: { readonly storage: Storage; readonly blobs: BlobHandlerton },
  onTransaction: (checked: number) => void = () => {},
): Promise<VerifyResult> {
  if (!engines.storage.capabilities.iterator) throw new NotSupportedError('iterator', engines.storage.name);
  const totals = { transactions: 0, records: 0, blobRevisions: 0, blobBytes: 0 };
  const problems: VerifyProblem[] = [];
  const note = (at: string, error: unknown): void => {
    if (problems.length < MAX_PROBLEMS) problems.push({ at, message: error instanceof Error ? error.message : String(error) });
  };
  const seen = new Set<Oid>();
  const referenced = new Map<Oid, string>();
  const checkedBlobs = new Set<string>();
  // record references per blob revision of this handlerton: the refcount a dataTransactional handlerton keeps
  const blobRefs = new Map<string, { ref: BlobRef; count: number; at: string }>();
  let complete = true;
  try {
    for await (const txn of engines.storage.iterator()) {
      totals.transactions++;
      onTransaction(totals.transactions);
      for (const rec of txn.records) {
        totals.records++;
        seen.add(rec.oid);
        if (rec.record === null) continue;
        const at = `record ${toHex(rec.oid)} @${toHex(rec.tid)}`;
        for (const oid of rec.record.refs.oids) if (!referenced.has(oid)) referenced.set(oid, at);
        for (const ref of rec.record.refs.blobs) {
          const key = `${ref.blobId}:${ref.revision}`;
          if (ref.revision !== 0n && ref.handlerton === engines.blobs.name) {
            const counted = blobRefs.get(key);
            if (counted === undefined) blobRefs.set(key, { ref, count: 1, at });
            else counted.count++;
          }
          if (ref.revision === 0n || ref.handlerton !== engines.blobs.name || checkedBlobs.has(key)) continue;
          checkedBlobs.add(key);
          try {
            totals.blobBytes += await readToEnd(engines.blobs, ref);
            totals.blobRevisions++;
          } catch (error) {
            note(`${at}: blob ${toHex(ref.blobId)} revision ${toHex(ref.revision)}`, error);
          }
        }
      }
    }
  } catch (error) {
    complete = false;
    note(`iterating transactions (after ${totals.transactions})`, error);
  }
  if (complete) await checkRefcounts(engines.blobs, blobRefs, note);
  for (const [oid, at] of referenced) if (!seen.has(oid)) note(at, `references object ${toHex(oid)}, which the history does not contain`);
  return { ...totals, problems };
}

/**
 * A dataTransactional handlerton with refcounts counts one reference per record revision that names a
 * blob revision (added at commit, released by pack): after a whole history was read, each referenced
 * revision's refcount must equal the references counted (no reader is open). Fewer would let a
 * reclaim delete a revision records still name; more leaks it.
 */
async function checkRefcounts(
  blobs: BlobHandlerton,
  counted: ReadonlyMap<string, { ref: BlobRef; count: number; at: string }>,
  note: (at: string, error: unknown) => void,
): Promise<void> {
  if (!blobs.capabilities.refcount || blobs.capabilities.mode !== 'dataTransactional') return;
  for (const { ref, count, at } of counted.values()) {
    let refcount: number;
    try {
      refcount = await blobs.refcount(ref.blobId, ref.revision);
    } catch (error) {
      note(`${at}: refcount of blob ${toHex(ref.blobId)} revision ${toHex(ref.revision)}`, error);
      continue;
    }
    if (refcount !== count) {
      note(
        `blob ${toHex(ref.blobId)} revision ${toHex(ref.revision)}`,
        `its refcount is ${refcount}, but ${count} record revision(s) reference it (first ${at}): ${refcount < count ? 'a reclaim could delete it while records name it' : 'it leaks: it is never reclaimed'}`,
      );
    }
  }
}

/** Reads one blob revision to its end in bounded chunks; returns its size. */
async function readToEnd(blobs: BlobHandlerton, ref: BlobRef): Promise<number> {
  const reader = await blobs.openRevision(ref.blobId, ref.revision);
  try {
    const buffer = new Uint8Array(Math.max(1, Math.min(READ_CHUNK, reader.size)));
    let position = 0;
    for (;;) {
      const n = await reader.read(buffer, position);
      if (n === 0) break;
      position += n;
    }
    if (position !== reader.size) throw new Error(`read ${position} bytes of a revision of ${reader.size}`);
    return position;
  } finally {
    await reader.close();
  }
}
