/**
 * Pack of the SQLite storage: per object (walking object_current in oid order), removes the revisions
 * older than the one current at the pack tid (following its prev_tid chain), and every revision up to
 * the pack tid of an object deleted at that time. Works in short
 * write transactions (one batch of objects each) and yields between them, so commits and reads go on.
 */
import { CorruptionError, decodeRefs, type BlobRef, type Oid, type PackObserver, type PackResult, type Tid } from '@handlerton/framework';
import type { SqliteConnection } from './connection.js';
import type { StorageStatements } from './storage-statements.js';
import { decodeOidList } from './oid-list.js';
import { yieldToLoop } from './yield.js';
import { revisionAt } from './revision-chain.js';
import { checkLink } from './record-check.js';

const OIDS_PER_STEP = 200;
const REFS_PER_BATCH = 500;

/** The prev_tid of revision `tid` of `oid` (its link checked; CorruptionError naming `file` when the revision is missing). */
function linkOf(sql: StorageStatements, file: string, oid: Oid, tid: Tid): Tid | null {
  const row = sql.removable.get({ oid, tid });
  if (row === undefined) throw new CorruptionError(`oid ${oid}: its revision ${tid} is missing`, file);
  checkLink(file, oid, tid, row);
  return row.prev_tid;
}

/** Runs a pack up to `packTid`; reports removed blob references to `observer` in batches. */
export async function runPack(
  conn: SqliteConnection,
  sql: StorageStatements,
  packTid: Tid,
  lastTid: Tid,
  observer: PackObserver | undefined,
): Promise<PackResult> {
  let removedRevisions = 0;
  let removedObjects = 0;
  let reclaimedBytes = 0;
  let refs: BlobRef[] = [];
  const flush = async (all: boolean): Promise<void> => {
    while (refs.length > 0 && (all || refs.length >= REFS_PER_BATCH)) {
      const batch = refs.slice(0, REFS_PER_BATCH);
      refs = refs.slice(REFS_PER_BATCH);
      if (observer !== undefined) await observer.releaseBlobRefs(batch);
    }
  };
  let after = -1n;
  for (;;) {
    conn.check();
    const oids = conn.read('pack', () => sql.currentOids.all({ after, limit: OIDS_PER_STEP }));
    if (oids.length === 0) break;
    after = oids[oids.length - 1]!.oid;
    conn.write('pack', () => {
      const touched = new Set<bigint>();
      for (const { oid } of oids) {
        // The revision current at the pack tid: older ones go; it goes too when it is a delete marker.
        const kept = revisionAt(sql, conn.file, oid, packTid, true);
        if (kept === undefined || kept === null) continue;
        let next: bigint | null = kept.deleted ? kept.tid : linkOf(sql, conn.file, oid, kept.tid);
        let removed = 0;
        while (next !== null) {
          const row = sql.removable.get({ oid, tid: next });
          // Earlier packs ended the chain where they cut it: a link to nothing is damage.
          if (row === undefined) throw new CorruptionError(`oid ${oid}: its revision ${next} is missing from its chain`, conn.file);
          checkLink(conn.file, oid, next, row);
          touched.add(next);
          reclaimedBytes += Number(row.bytes) + (row.refs?.length ?? 0);
          if (row.refs !== null) refs.push(...decodeRefs(row.refs).blobs);
          sql.deleteRevision.run({ oid, tid: next });
          removed += 1;
          next = row.prev_tid;
        }
        if (removed === 0) continue;
        removedRevisions += removed;
        if (!kept.deleted) sql.endChain.run({ oid, tid: kept.tid });
        else if (kept.nextTid !== null) sql.endChain.run({ oid, tid: kept.nextTid });
        else {
          // The delete marker was the newest revision: the object is gone.
          sql.deleteCurrent.run({ oid });
          removedObjects += 1;
        }
      }
      for (const tid of touched) {
        // A transaction left with no revision goes, except the newest (it anchors lastTransaction).
        const row = tid < lastTid ? sql.txnOids.get({ tid }) : undefined;
        const empty = row !== undefined && decodeOidList(row.oids).every((oid) => sql.revisionExists.get({ oid, tid }) === undefined);
        if (empty) sql.deleteTxn.run({ tid });
        else sql.markPacked.run({ tid });
      }
    });
    conn.noteWal(conn.pageSize * 4);
    await flush(false);
    await conn.throttle();
    await yieldToLoop();
  }
  await flush(true);
  return { removedRevisions, removedObjects, reclaimedBytes };
}
