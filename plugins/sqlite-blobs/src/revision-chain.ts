/**
 * The revisions of one object form a chain: `object_current` names the newest, and each revision's
 * `prev_tid` names the one it replaced (null for the first, and for the oldest one a pack kept).
 * These walks find the revision current at a tid (loadBefore, pack) without an index by oid.
 */
import { CorruptionError, type Oid, type Tid } from '@handlerton/framework';
import type { StorageStatements } from './storage-statements.js';

/** Where a walk ended: the revision found and the tid of the one after it (null: it is the newest). */
export interface ChainPosition {
  readonly tid: Tid;
  readonly deleted: boolean;
  readonly nextTid: Tid | null;
}

/**
 * The newest revision of `oid` with a tid below `bound` (at or below it when `inclusive`): undefined
 * when the object has no revision at all, null when it has none that old (or those were packed).
 * A current pointer naming a missing revision, or a chain that does not go back in time, is
 * CorruptionError naming `file`.
 */
export function revisionAt(sql: StorageStatements, file: string, oid: Oid, bound: Tid, inclusive: boolean): ChainPosition | null | undefined {
  const current = sql.currentSerial.get({ oid });
  if (current === undefined) return undefined;
  let tid = current.tid;
  let deleted = current.deleted !== 0n;
  let nextTid: Tid | null = null;
  let first = true;
  while (inclusive ? tid > bound : tid >= bound) {
    const row = sql.prevOf.get({ tid, oid });
    if (row === undefined) {
      if (first) throw new CorruptionError(`oid ${oid}: its current revision ${tid} is missing`, file);
      return null; // removed by a pack that raced the commit naming it
    }
    first = false;
    if (row.prev_tid === null) return null;
    if (row.prev_tid >= tid) throw new CorruptionError(`oid ${oid} revision ${tid}: it replaces revision ${row.prev_tid}, which is not older`, file);
    nextTid = tid;
    tid = row.prev_tid;
    // The delete flag of the revision stepped to is read once the walk stops (below).
  }
  if (nextTid !== null) {
    const row = sql.prevOf.get({ tid, oid });
    if (row === undefined) return null;
    deleted = row.deleted !== 0n;
  }
  return { tid, deleted, nextTid };
}
