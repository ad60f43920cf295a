/**
 * Pack of the SQLite storage: per object, removes revisions older than the one current at the pack
 * tid, and every revision up to the pack tid of an object deleted at that time. Works in short
 * write transactions (one batch of objects each) and yields between them, so commits and reads go on.
 */
import { decodeRefs, type BlobRef, type PackObserver, type PackResult, type Tid } from '@handlerton/framework';
import type { SqliteConnection } from './connection.js';
import type { StorageStatements } from './storage-statements.js';
import { decodeOidList } from './oid-list.js';
import { yieldToLoop } from './yield.js';

const OIDS_PER_STEP = 200;
const REFS_PER_BATCH = 500;

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
    const oids = await conn.kysely
      .selectFrom('object_revision')
      .select('oid')
      .distinct()
      .where('oid', '>', after)
      .where('tid', '<=', packTid)
      .orderBy('oid')
      .limit(OIDS_PER_STEP)
      .execute()
      .catch((error: unknown) => {
        throw conn.fail(error, 'pack');
      });
    if (oids.length === 0) break;
    after = oids[oids.length - 1]!.oid;
    conn.write('pack', () => {
      const touched = new Set<bigint>();
      for (const { oid } of oids) {
        const current = sql.atOrBefore.get({ oid, tid: packTid });
        if (current === undefined) continue;
        const deleted = current.deleted !== 0n;
        const upTo = deleted ? current.tid : current.tid - 1n;
        const rows = sql.removable.all({ oid, tid: upTo });
        if (rows.length === 0) continue;
        for (const row of rows) {
          touched.add(row.tid);
          reclaimedBytes += Number(row.bytes) + (row.refs?.length ?? 0);
          if (row.refs !== null) refs.push(...decodeRefs(row.refs).blobs);
        }
        sql.deleteUpTo.run({ oid, tid: upTo });
        removedRevisions += rows.length;
        if (deleted && sql.exists.get({ oid }) === undefined) removedObjects += 1;
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
