/**
 * The writer side of the torture workload: the init transaction that lays out the root, the
 * shared record and the 32 heads, reading every head back, and committing transaction `seq` of
 * one committer (with db.transaction and conflict retries), returning its commit tid.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ROOT_OID, type Database, type Oid, type Tid, type Transaction } from '@handlerton/framework';
import {
  appendShared,
  blobChunks,
  decodeHead,
  decodeRoot,
  decodeShared,
  emptyHead,
  encodeHead,
  encodeRoot,
  encodeShared,
  MAX_COMMITTERS,
  planFor,
  recordContent,
  type HeadState,
  type RootState,
} from './workload.js';

/** Settings of one committer's transactions. */
export interface CommitSettings {
  readonly seed: number;
  readonly maxBlobBytes: number;
  /** True when the engine supports deletes (externalGC): plans unlink with a delete sometimes. */
  readonly deletes: boolean;
}

/** What one committed transaction did. */
export interface Committed {
  readonly head: HeadState;
  readonly tid: Tid;
  /** Calls of the transaction function (1 + conflict retries). */
  readonly attempts: number;
  /** Oid created per slot. */
  readonly created: ReadonlyMap<number, Oid>;
}

/** Conflict retries per transaction before the writer gives up (a livelock would be a finding). */
const RETRIES = 10_000;

/** Reads the layout, or commits it into an empty database; `initTid` is set when this call created it. */
export async function openLayout(db: Database): Promise<{ root: RootState; heads: HeadState[]; initTid: Tid | undefined }> {
  let initTid: Tid | undefined;
  let root = await readRoot(db);
  if (root === undefined) {
    root = await db.transaction(async (tx) => {
      const shared = await tx.create(encodeShared({ count: 0, tail: [] }));
      const heads: Oid[] = [];
      for (let c = 0; c < MAX_COMMITTERS; c++) heads.push(await tx.create(encodeHead(emptyHead(c))));
      const layout: RootState = { shared, heads };
      await tx.write(ROOT_OID, encodeRoot(layout), { refs: [shared, ...heads] });
      return layout;
    });
    initTid = await serialOf(db, ROOT_OID);
  }
  const snapshot = await db.snapshot();
  try {
    const heads: HeadState[] = [];
    for (const oid of root.heads) heads.push(decodeHead((await snapshot.read(oid)).data));
    return { root, heads, initTid };
  } finally {
    await snapshot.close();
  }
}

async function readRoot(db: Database): Promise<RootState | undefined> {
  const snapshot = await db.snapshot();
  try {
    const record = await snapshot.tryRead(ROOT_OID);
    return record === undefined ? undefined : decodeRoot(record.data);
  } finally {
    await snapshot.close();
  }
}

/** The serial of `oid` in the latest state (an object only one committer writes: its own last commit). */
async function serialOf(db: Database, oid: Oid): Promise<Tid> {
  const snapshot = await db.snapshot();
  try {
    return (await snapshot.read(oid)).tid;
  } finally {
    await snapshot.close();
  }
}

async function writeBlob(tx: Transaction, oid: Oid | undefined, chunks: Iterable<Uint8Array>): Promise<Oid> {
  const blob = oid === undefined ? await tx.createBlob() : await tx.blob(oid);
  const handle = await blob.open('w');
  try {
    await pipeline(Readable.from(chunks), handle.createWriteStream());
  } finally {
    await handle.close();
  }
  return blob.oid;
}

/** Commits transaction `seq` of committer `head.c` (seq = head.seq + 1); retries conflicts. */
export async function commitNext(db: Database, root: RootState, head: HeadState, settings: CommitSettings): Promise<Committed> {
  const c = head.c;
  const seq = head.seq + 1;
  const headOid = root.heads[c];
  if (headOid === undefined) throw new Error(`no head for committer ${c}`);
  const plan = planFor(settings.seed, c, seq, head.slots.map((s) => s?.kind), settings.deletes);
  let attempts = 0;
  const result = await db.transaction(
    async (tx) => {
      attempts++;
      const slots = [...head.slots];
      const created = new Map<number, Oid>();
      for (const [slot, op] of plan.ops) {
        const current = slots[slot] ?? null;
        if (op.op === 'create') {
          const oid =
            op.kind === 'record'
              ? await tx.create(recordContent(settings.seed, c, seq, slot))
              : await writeBlob(tx, undefined, blobChunks(settings.seed, c, seq, slot, settings.maxBlobBytes));
          slots[slot] = { oid, kind: op.kind, wseq: seq };
          created.set(slot, oid);
        } else if (current === null) {
          throw new Error(`plan of ${c}.${seq} touches empty slot ${slot}`);
        } else if (op.op === 'overwrite') {
          if (current.kind === 'record') await tx.write(current.oid, recordContent(settings.seed, c, seq, slot));
          else await writeBlob(tx, current.oid, blobChunks(settings.seed, c, seq, slot, settings.maxBlobBytes));
          slots[slot] = { ...current, wseq: seq };
        } else {
          slots[slot] = null;
          if (op.delete) await tx.delete(current.oid);
        }
      }
      if (plan.shared) {
        const shared = decodeShared((await tx.read(root.shared)).data);
        await tx.write(root.shared, encodeShared(appendShared(shared, c, seq)));
      }
      const next: HeadState = { c, seq, slots };
      const refs = slots.flatMap((s) => (s === null ? [] : [s.oid]));
      await tx.write(headOid, encodeHead(next), { refs });
      return { head: next, created };
    },
    { retries: RETRIES },
  );
  return { ...result, tid: await serialOf(db, headOid), attempts };
}
