/**
 * The revisions of one object form a chain: `object_current` names the newest, and each revision's
 * `prev_tid` names the one it replaced (null for the first, and for the oldest one a pack kept).
 * These walks find the revision current at a tid (loadBefore, pack) without an index by oid; every
 * pointer and link they follow is checked against its checksum (record-check.ts).
 */
import { CorruptionError, type Oid, type Tid } from '@handlerton/framework';
import { checkLink, checkPointer } from './record-check.js';
import type { StorageStatements } from './storage-statements.js';

/** An object's current pointer (checked): the tid and delete flag of its newest revision. */
export interface CurrentPointer {
  readonly tid: Tid;
  readonly deleted: bigint;
}

/** The checked current pointer of `oid`, undefined when it has none (CorruptionError naming `file` when it fails its checksum). */
export function currentPointer(sql: StorageStatements, file: string, oid: Oid): CurrentPointer | undefined {
  const row = sql.currentSerial.get({ oid });
  if (row !== undefined) checkPointer(file, oid, row);
  return row;
}

/** Where a walk ended: the revision found and the tid of the one after it (null: it is the newest). */
export interface ChainPosition {
  readonly tid: Tid;
  readonly deleted: boolean;
  readonly nextTid: Tid | null;
}

/**
 * The newest revision of `oid` with a tid below `bound` (at or below it when `inclusive`): undefined
 * when the object has no revision at all, null when it has none that old (or those were packed).
 * A current pointer or a prev_tid naming a missing revision, or a chain that does not go back in
 * time, is CorruptionError naming `file`.
 */
export function revisionAt(sql: StorageStatements, file: string, oid: Oid, bound: Tid, inclusive: boolean): ChainPosition | null | undefined {
  const current = currentPointer(sql, file, oid);
  if (current === undefined) return undefined;
  let tid = current.tid;
  let deleted = current.deleted !== 0n;
  let nextTid: Tid | null = null;
  let first = true;
  while (inclusive ? tid > bound : tid >= bound) {
    const row = sql.prevOf.get({ tid, oid });
    if (row === undefined) {
      // A pack ends the chain (prev_tid null) in the transaction that removes the older part, and
      // migration 0003 ended the chains older packs had cut: a link to nothing is damage.
      throw new CorruptionError(`oid ${oid}: its ${first ? 'current ' : ''}revision ${tid}${first ? '' : `, which revision ${nextTid} replaces,`} is missing`, file);
    }
    first = false;
    checkLink(file, oid, tid, row);
    if (row.prev_tid === null) return null;
    if (row.prev_tid >= tid) throw new CorruptionError(`oid ${oid} revision ${tid}: it replaces revision ${row.prev_tid}, which is not older`, file);
    nextTid = tid;
    tid = row.prev_tid;
    // The delete flag of the revision stepped to is read once the walk stops (below).
  }
  if (nextTid !== null) {
    const row = sql.prevOf.get({ tid, oid });
    if (row === undefined) throw new CorruptionError(`oid ${oid}: its revision ${tid}, which revision ${nextTid} replaces, is missing`, file);
    checkLink(file, oid, tid, row);
    deleted = row.deleted !== 0n;
  }
  return { tid, deleted, nextTid };
}
