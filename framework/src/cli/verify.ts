/**
 * The generic consistency check behind `handlerton verify`: iterates every transaction, reads every
 * record the iterator yields, reads every referenced blob revision to its end and checks that every
 * object reference names an object the history contains. Works on any engine with an iterator.
 */
import type { BlobHandlerton } from '../contracts/blob-handlerton.js';
import { NotSupportedError } from '../contracts/errors.js';
import { toHex, type Oid } from '../contracts/ids.js';
import type { BlobRef } from '../contracts/records.js';
import type { Storage } from '../contracts/storage.js';

/** One problem found: where, and what. */
export interface VerifyProblem {
  readonly at: string;
  readonly message: string;
}

/** What `verify` checked and found. */
export interface VerifyResult {
  readonly transactions: number;
  readonly records: number;
  readonly blobRevisions: number;
  readonly blobBytes: number;
  readonly problems: readonly VerifyProblem[];
}

const READ_CHUNK = 1024 * 1024;
const MAX_PROBLEMS = 1000;

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
    note(`iterating transactions (after ${totals.transactions})`, error);
  }
  for (const [oid, at] of referenced) if (!seen.has(oid)) note(at, `references object ${toHex(oid)}, which the history does not contain`);
  return { ...totals, problems };
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
