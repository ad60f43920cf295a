/**
 * A second look before the storage answers "absent". SQLite pages carry no checksums, so damaged
 * bytes in an interior or leaf page of the `object_revision` b-tree can route a lookup to the wrong
 * page: an existing record then reads as missing, and no row checksum helps because the row is never
 * reached. Before a miss is answered, the rows on both sides of the sought key are read by range
 * seeks (the last row below it, the first at or above it): in a sound b-tree they are ordered around
 * the key, belong to other oids (or other tids outside the range sought), and pass their checksums.
 * Anything else is `CorruptionError` naming the file. Cost: four index seeks and two row checksums,
 * on misses only (a hit costs nothing more).
 */
import { CorruptionError, type Oid, type Tid } from '@handlerton/framework';
import { sql } from 'kysely';
import type { SqliteConnection } from './connection.js';
import { arg } from './prepared.js';
import { checkRecordRow, type CheckedRow } from './record-check.js';

function missStatements(conn: SqliteConnection) {
  const columns = ['oid', 'tid', 'deleted', 'data', 'refs', 'crc'] as const;
  return {
    below: conn.query('m.below', (k) =>
      k.selectFrom('object_revision').select(columns)
        .where(sql<boolean>`(oid, tid) < (${arg<bigint>('oid')}, ${arg<bigint>('tid')})`)
        .orderBy('oid', 'desc').orderBy('tid', 'desc').limit(1),
    ),
    atOrAbove: conn.query('m.atOrAbove', (k) =>
      k.selectFrom('object_revision').select(columns)
        .where(sql<boolean>`(oid, tid) >= (${arg<bigint>('oid')}, ${arg<bigint>('tid')})`)
        .orderBy('oid', 'asc').orderBy('tid', 'asc').limit(1),
    ),
    // The walks between the two rows (seek, then one step of the cursor): keys only.
    walkUp: conn.query('m.walkUp', (k) =>
      k.selectFrom('object_revision').select(['oid', 'tid'])
        .where(sql<boolean>`(oid, tid) >= (${arg<bigint>('oid')}, ${arg<bigint>('tid')})`)
        .orderBy('oid', 'asc').orderBy('tid', 'asc').limit(2),
    ),
    walkDown: conn.query('m.walkDown', (k) =>
      k.selectFrom('object_revision').select(['oid', 'tid'])
        .where(sql<boolean>`(oid, tid) <= (${arg<bigint>('oid')}, ${arg<bigint>('tid')})`)
        .orderBy('oid', 'desc').orderBy('tid', 'desc').limit(2),
    ),
  };
}

/** A row key as read (a damaged cell can decode as a value of whatever SQLite type). */
interface Key {
  readonly oid: bigint;
  readonly tid: bigint;
}

/** A revision row with its key. */
interface KeyedRow extends CheckedRow, Key {}

/** -1, 0 or 1 as key (aOid, aTid) sorts before, equal to or after (bOid, bTid). */
function compareKeys(aOid: bigint, aTid: bigint, bOid: bigint, bTid: bigint): number {
  if (aOid !== bOid) return aOid < bOid ? -1 : 1;
  return aTid === bTid ? 0 : aTid < bTid ? -1 : 1;
}

function describe(row: Key | undefined): string {
  return row === undefined ? 'nothing' : `oid ${row.oid} tid ${row.tid}`;
}

/** True when `row` has the key of `other` (both absent counts as the same). */
function sameKey(row: Key | undefined, other: Key | undefined): boolean {
  if (row === undefined || other === undefined) return row === other;
  return compareKeys(row.oid, row.tid, other.oid, other.tid) === 0;
}

/**
 * Throws CorruptionError unless the b-tree around key (oid, fromTid) confirms that `oid` has no
 * revision row with fromTid <= tid <= toTid. Call it (inside `conn.read`) after a lookup found none.
 * Four seeks: the last row below the key and the first at or above it (checksummed), and the
 * cursor's walks (keys only) from each to the other (a sound b-tree has nothing between them; SQLite filters a range scan by its
 * bounds, so a damaged key below the lower row shows only walking down, one above the upper only up).
 */
export function confirmMiss(conn: SqliteConnection, oid: Oid, fromTid: Tid, toTid: Tid): void {
  const statements = missStatements(conn);
  const fail = (why: string): never => {
    throw new CorruptionError(`oid ${oid}: the lookup found no revision but ${why}: the record b-tree is damaged`, conn.file);
  };
  const below: KeyedRow | undefined = statements.below.get({ oid, tid: fromTid });
  const above: KeyedRow | undefined = statements.atOrAbove.get({ oid, tid: fromTid });
  for (const row of [below, above]) {
    if (row === undefined) continue;
    // Only integer keys can be ordered or checksummed.
    if (typeof row.oid !== 'bigint' || typeof row.tid !== 'bigint') fail('a neighbouring row has a key that is not two integers');
    checkRecordRow(conn.file, row.oid, row);
  }
  if (below !== undefined && compareKeys(below.oid, below.tid, oid, fromTid) >= 0) fail(`a range seek below it returned ${describe(below)}`);
  if (above !== undefined && compareKeys(above.oid, above.tid, oid, fromTid) < 0) fail(`a range seek above it returned ${describe(above)}`);
  if (above !== undefined && above.oid === oid && above.tid <= toTid) fail(`a range seek found its revision ${above.tid}`);
  // Keys are compared by value, so a damaged key of another type never equals a checked one.
  const up: Key[] = below === undefined ? [] : statements.walkUp.all({ oid: below.oid, tid: below.tid });
  const down: Key[] = above === undefined ? [] : statements.walkDown.all({ oid: above.oid, tid: above.tid });
  if (below !== undefined && (!sameKey(up[0], below) || !sameKey(up[1], above))) {
    fail(`the row after ${describe(below)} in the b-tree is ${describe(up[1])}, not ${describe(above)}`);
  }
  if (above !== undefined && (!sameKey(down[0], above) || !sameKey(down[1], below))) {
    fail(`the row before ${describe(above)} in the b-tree is ${describe(down[1])}, not ${describe(below)}`);
  }
}
