/**
 * One step of the workload against an open database: where the last writer stopped (from the
 * root record), and committing transaction `seq` (records, overwrites, blobs, manifest, root).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ROOT_OID, type Database, type Oid, type Transaction } from '@handlerton/framework';
import {
  blobChunks,
  decodeManifest,
  decodeRoot,
  encodeManifest,
  encodeRoot,
  HOT_RECORDS,
  LABEL_HOT,
  LABEL_HOT_BLOB,
  LABEL_NEW_BLOB,
  LABEL_REWRITE_PREVIOUS,
  planFor,
  recordContent,
  type RootState,
} from './workload.js';

/** Where the writer continues from. */
export interface WriterState {
  readonly root: RootState | undefined;
  /** Oid of the first record (label 0) of the last committed transaction. */
  readonly previousFirst: Oid | undefined;
}

/** Reads where the last writer stopped. */
export async function readWriterState(db: Database): Promise<WriterState> {
  const snapshot = await db.snapshot();
  try {
    const rootRecord = await snapshot.tryRead(ROOT_OID);
    if (rootRecord === undefined) return { root: undefined, previousFirst: undefined };
    const root = decodeRoot(rootRecord.data);
    const manifest = decodeManifest((await snapshot.read(root.manifest)).data);
    const first = manifest.records.find(([, label]) => label === 0);
    return { root, previousFirst: first?.[0] };
  } finally {
    await snapshot.close();
  }
}

async function writeBlob(tx: Transaction, oid: Oid | undefined, seq: number, label: number): Promise<Oid> {
  const blob = oid === undefined ? await tx.createBlob() : await tx.blob(oid);
  const handle = await blob.open('w');
  try {
    await pipeline(Readable.from(blobChunks(seq, label)), handle.createWriteStream());
  } finally {
    await handle.close();
  }
  return blob.oid;
}

/** Commits workload transaction `seq` and returns the state after it. */
export async function commitTransaction(db: Database, seq: number, state: WriterState, blobs: boolean): Promise<WriterState> {
  const plan = planFor(seq, blobs);
  return db.transaction(async (tx) => {
    const records: Array<readonly [Oid, number]> = [];
    const written: Array<readonly [Oid, number]> = [];
    for (const label of plan.created) records.push([await tx.create(recordContent(seq, label)), label]);
    const hot = state.root?.hot ?? records.filter(([, label]) => label >= LABEL_HOT && label < LABEL_HOT + HOT_RECORDS).map(([oid]) => oid);
    if (plan.hotSlot !== undefined) {
      const target = hot[plan.hotSlot];
      if (target === undefined) throw new Error(`hot slot ${plan.hotSlot} unknown`);
      await tx.write(target, recordContent(seq, LABEL_HOT + plan.hotSlot));
      records.push([target, LABEL_HOT + plan.hotSlot]);
    }
    if (plan.rewritePrevious) {
      if (state.previousFirst === undefined) throw new Error('the previous transaction has no first record');
      await tx.write(state.previousFirst, recordContent(seq, LABEL_REWRITE_PREVIOUS));
      records.push([state.previousFirst, LABEL_REWRITE_PREVIOUS]);
    }
    if (plan.newBlob) written.push([await writeBlob(tx, undefined, seq, LABEL_NEW_BLOB), LABEL_NEW_BLOB]);
    let hotBlob = state.root?.hotBlob;
    if (plan.hotBlob) {
      hotBlob = await writeBlob(tx, hotBlob, seq, LABEL_HOT_BLOB);
      written.push([hotBlob, LABEL_HOT_BLOB]);
    }
    const previous = state.root?.manifest;
    const createdOids = records.filter(([, label]) => plan.created.includes(label)).map(([oid]) => oid);
    const manifestRefs = [...createdOids, ...written.map(([oid]) => oid), ...(previous === undefined ? [] : [previous])];
    const manifest = await tx.create(encodeManifest({ seq, previous, records, blobs: written }), { refs: manifestRefs });
    const root: RootState = { seq, manifest, hot, hotBlob };
    await tx.write(ROOT_OID, encodeRoot(root), { refs: [manifest, ...hot, ...(hotBlob === undefined ? [] : [hotBlob])] });
    const first = records.find(([, label]) => label === 0);
    return { root, previousFirst: first?.[0] };
  });
}
