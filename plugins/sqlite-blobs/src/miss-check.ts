/**
 * A second look before the storage answers "absent". SQLite pages carry no checksums, so damaged
 * bytes in an interior or leaf page of a b-tree can route a lookup to the wrong page: an existing
 * row then reads as missing, and no row checksum helps because the row is never reached. Since
 * migration 0003 two b-trees are looked up by key: `object_current` (by oid: does the object exist)
 * and `revision` (by (tid, oid): loadSerial). Before a miss in either is answered, the rows on both
 * sides of the sought key are read by range seeks (the last row below it, the first at or above it):
 * in a sound b-tree they are ordered around the key, are other rows, and pass their checksums (key
 * included). Then the cursor walks from each to the other (keys only) must meet nothing in between.
 * Anything else is `CorruptionError` naming the file. Cost, on misses only (a hit costs nothing
 * more): four index seeks and two row checksums.
 */
import { CorruptionError, type Oid, type Tid } from '@handlerton/framework';
import { sql } from 'kysely';
import type { SqliteConnection } from './connection.js';
import { arg } from './prepared.js';
import { checkPointer, checkRecordRow, type CheckedPointer, type CheckedRow } from './record-check.js';

function missStatements(conn: SqliteConnection) {
  const revisionColumns = ['tid', 'oid', 'deleted', 'data', 'refs', 'crc'] as const;
  const pointerColumns = ['oid', 'tid', 'deleted', 'crc'] as const;
  return {
    revision: {
      below: conn.query('m.rev.below', (k) =>
        k.selectFrom('revision').select(revisionColumns)
          .where(sql<boolean>`(tid, oid) < (${arg<bigint>('tid')}, ${arg<bigint>('oid')})`)
          .orderBy('tid', 'desc').orderBy('oid', 'desc').limit(1),
      ),
      atOrAbove: conn.query('m.rev.atOrAbove', (k) =>
        k.selectFrom('revision').select(revisionColumns)
          .where(sql<boolean>`(tid, oid) >= (${arg<bigint>('tid')}, ${arg<bigint>('oid')})`)
          .orderBy('tid', 'asc').orderBy('oid', 'asc').limit(1),
      ),
      // The walks between the two rows (seek, then one step of the cursor): keys only.
      walkUp: conn.query('m.rev.walkUp', (k) =>
        k.selectFrom('revision').select(['tid', 'oid'])
          .where(sql<boolean>`(tid, oid) >= (${arg<bigint>('tid')}, ${arg<bigint>('oid')})`)
          .orderBy('tid', 'asc').orderBy('oid', 'asc').limit(2),
      ),
      walkDown: conn.query('m.rev.walkDown', (k) =>
        k.selectFrom('revision').select(['tid', 'oid'])
          .where(sql<boolean>`(tid, oid) <= (${arg<bigint>('tid')}, ${arg<bigint>('oid')})`)
          .orderBy('tid', 'desc').orderBy('oid', 'desc').limit(2),
      ),
    },
    current: {
      below: conn.query('m.cur.below', (k) =>
        k.selectFrom('object_current').select(pointerColumns).where('oid', '<', arg<bigint>('oid')).orderBy('oid', 'desc').limit(1),
      ),
      atOrAbove: conn.query('m.cur.atOrAbove', (k) =>
        k.selectFrom('object_current').select(pointerColumns).where('oid', '>=', arg<bigint>('oid')).orderBy('oid', 'asc').limit(1),
      ),
      walkUp: conn.query('m.cur.walkUp', (k) =>
        k.selectFrom('object_current').select('oid').where('oid', '>=', arg<bigint>('oid')).orderBy('oid', 'asc').limit(2),
      ),
      walkDown: conn.query('m.cur.walkDown', (k) =>
        k.selectFrom('object_current').select('oid').where('oid', '<=', arg<bigint>('oid')).orderBy('oid', 'desc').limit(2),
      ),
    },
  };
}

/** A b-tree key as read, in key column order (a damaged cell can decode as a value of whatever SQLite type). */
type Key = readonly unknown[];

/** -1, 0 or 1 as integer key `a` sorts before, equal to or after `b` (same length). */
function compareKeys(a: readonly bigint[], b: readonly bigint[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}

/** True when every part of `key` is an integer (only those can be ordered or checked). */
function isIntegerKey(key: Key): key is readonly bigint[] {
  return key.every((part) => typeof part === 'bigint');
}

function describe(names: readonly string[], key: Key | undefined): string {
  return key === undefined ? 'nothing' : names.map((name, i) => `${name} ${String(key[i])}`).join(' ');
}

/** True when `key` equals `other` (both absent counts as the same; values compared, so other types never match). */
function sameKey(key: Key | undefined, other: Key | undefined): boolean {
  if (key === undefined || other === undefined) return key === other;
  return key.length === other.length && key.every((part, i) => part === other[i]);
}

/** A row next to the sought key: its key as read, and the check that it is genuine (for integer keys). */
interface Neighbour {
  readonly key: Key;
  check(): void;
}

/** One b-tree's view for the shared check: its key names, the neighbours around a key, the walks (keys only). */
interface Neighbourhood {
  readonly names: readonly string[];
  below(key: readonly bigint[]): Neighbour | undefined;
  atOrAbove(key: readonly bigint[]): Neighbour | undefined;
  walkUp(key: readonly bigint[]): Key[];
  walkDown(key: readonly bigint[]): Key[];
}

/** The shared check: throws (via `fail`) unless the b-tree around `sought` confirms it holds no row with that key. */
function confirmAround(tree: Neighbourhood, sought: readonly bigint[], fail: (why: string) => never): void {
  const checked: (readonly bigint[] | undefined)[] = [];
  for (const neighbour of [tree.below(sought), tree.atOrAbove(sought)]) {
    if (neighbour === undefined) {
      checked.push(undefined);
      continue;
    }
    const key = neighbour.key;
    if (!isIntegerKey(key)) return fail(`a neighbouring row has a key that is not ${tree.names.length} integers`);
    neighbour.check();
    checked.push(key);
  }
  const [low, high] = checked;
  if (low !== undefined && compareKeys(low, sought) >= 0) fail(`a range seek below it returned ${describe(tree.names, low)}`);
  if (high !== undefined && compareKeys(high, sought) < 0) fail(`a range seek above it returned ${describe(tree.names, high)}`);
  if (high !== undefined && compareKeys(high, sought) === 0) fail(`a range seek found its row ${describe(tree.names, high)}`);
  // SQLite filters a range scan by its bounds, so a damaged key below the lower row shows only walking
  // down, one above the upper only walking up: both walks are needed.
  const up = low === undefined ? [] : tree.walkUp(low);
  const down = high === undefined ? [] : tree.walkDown(high);
  if (low !== undefined && (!sameKey(up[0], low) || !sameKey(up[1], high))) {
    fail(`the row after ${describe(tree.names, low)} in the b-tree is ${describe(tree.names, up[1])}, not ${describe(tree.names, high)}`);
  }
  if (high !== undefined && (!sameKey(down[0], high) || !sameKey(down[1], low))) {
    fail(`the row before ${describe(tree.names, high)} in the b-tree is ${describe(tree.names, down[1])}, not ${describe(tree.names, low)}`);
  }
}

/**
 * Throws CorruptionError unless the `revision` b-tree around key (tid, oid) confirms that `oid` has
 * no revision `tid`. Call it (inside `conn.read`) after a lookup of that revision found none.
 */
export function confirmRevisionMiss(conn: SqliteConnection, oid: Oid, tid: Tid): void {
  const s = missStatements(conn).revision;
  const neighbour = (row: (CheckedRow & { readonly oid: bigint }) | undefined): Neighbour | undefined =>
    row === undefined ? undefined : { key: [row.tid, row.oid], check: () => checkRecordRow(conn.file, row.oid, row) };
  const keys = (rows: readonly { readonly tid: unknown; readonly oid: unknown }[]): Key[] => rows.map((r) => [r.tid, r.oid]);
  confirmAround(
    {
      names: ['tid', 'oid'],
      below: ([t, o]) => neighbour(s.below.get({ tid: t!, oid: o! })),
      atOrAbove: ([t, o]) => neighbour(s.atOrAbove.get({ tid: t!, oid: o! })),
      walkUp: ([t, o]) => keys(s.walkUp.all({ tid: t!, oid: o! })),
      walkDown: ([t, o]) => keys(s.walkDown.all({ tid: t!, oid: o! })),
    },
    [tid, oid],
    (why) => {
      throw new CorruptionError(`oid ${oid}: the lookup of revision ${tid} found none but ${why}: the revision b-tree is damaged`, conn.file);
    },
  );
}

/**
 * Throws CorruptionError unless the `object_current` b-tree around `oid` confirms that it has no
 * current pointer (the object never existed or a pack removed it). Call it (inside `conn.read`)
 * after a lookup of the pointer found none for an oid at or below the highest stored one.
 */
export function confirmCurrentMiss(conn: SqliteConnection, oid: Oid): void {
  const s = missStatements(conn).current;
  const neighbour = (row: (CheckedPointer & { readonly oid: bigint }) | undefined): Neighbour | undefined =>
    row === undefined ? undefined : { key: [row.oid], check: () => checkPointer(conn.file, row.oid, row) };
  const keys = (rows: readonly { readonly oid: unknown }[]): Key[] => rows.map((r) => [r.oid]);
  confirmAround(
    {
      names: ['oid'],
      below: ([o]) => neighbour(s.below.get({ oid: o! })),
      atOrAbove: ([o]) => neighbour(s.atOrAbove.get({ oid: o! })),
      walkUp: ([o]) => keys(s.walkUp.all({ oid: o! })),
      walkDown: ([o]) => keys(s.walkDown.all({ oid: o! })),
    },
    [oid],
    (why) => {
      throw new CorruptionError(`oid ${oid}: the lookup of its current revision found none but ${why}: the object_current b-tree is damaged`, conn.file);
    },
  );
}
