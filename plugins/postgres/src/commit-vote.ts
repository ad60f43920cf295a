/**
 * The vote of a commit in one statement: the serial checks of every buffered store and delete, the
 * `txn` row, the first batch of revisions and the oid sequence, so that the commit lock is held for
 * one round trip at vote instead of one per `storeMany` plus one at vote. A failed check inserts
 * nothing and comes back as rows, turned here into the error `storeMany` used to raise at once.
 */
import { ConflictError, POSKeyError, toHex, type Oid, type Tid } from '@handlerton/framework';
import pg from 'pg';
import { MAX_BIGINT, type EncodedRecord } from './record-codec.js';
import type { Statement } from './storage-sql.js';

/** One serial check of a buffered write, in call order (restores have none). */
export interface SerialCheck {
  readonly oid: Oid;
  readonly serial: Tid;
  /** A delete marker (`deleteObject`, or `storeMany` with record null) rather than a store. */
  readonly isDelete: boolean;
}

/** A buffered revision to insert. */
export interface BufferedWrite {
  readonly deleted: boolean;
  readonly row: EncodedRecord;
}

/** A failed check as the vote statement returns it. */
interface FailedCheckRow {
  readonly i: bigint | null;
  readonly cur_tid: bigint | null;
  readonly cur_deleted: boolean | null;
}

/**
 * The vote statement of `schema`. Parameters: $1 oids, $2 tid, $3 deleted flags, $4 data, $5 refs
 * (the first batch of revisions), $6 user, $7 description, $8 extension, $9 the highest oid stored,
 * $10 check oids, $11 check serials, $12 check kinds (true: delete). Returns one row with `i` null
 * when every check passed (and everything was inserted), else one row per failed check (1-based `i`
 * into the check arrays, with the object's newest revision) and nothing inserted.
 */
export function voteStatement(schema: string): Statement {
  const t = (table: string): string => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}`;
  const os = t('object_state');
  const seq = `${pg.escapeIdentifier(schema)}.oid_seq`;
  // A store passes when its serial is the newest revision's tid, or 0 for no revision or a delete
  // marker, or the delete marker's tid; a delete passes when its serial is the tid of a live revision.
  return {
    name: 'ht_vote',
    text: `with cur as (
         select w.i, c.tid as cur_tid, c.deleted as cur_deleted, w.serial, w.del
         from unnest($10::int8[], $11::int8[], $12::bool[]) with ordinality as w(zoid, serial, del, i)
         left join lateral (select s.tid, s.deleted from ${os} s where s.zoid = w.zoid order by s.tid desc limit 1) c on true),
       bad as (
         select i, cur_tid, cur_deleted from cur
         where case when del then cur_tid is null or cur_deleted or serial <> cur_tid
                    when cur_tid is null then serial <> 0
                    when cur_deleted then serial <> 0 and serial <> cur_tid
                    else serial <> cur_tid end),
       ins_txn as (insert into ${t('txn')} (tid, username, description, extension)
                   select $2, $6, $7, $8 where not exists (select 1 from bad)),
       ins_states as (insert into ${os} (zoid, tid, deleted, data, refs)
                      select z, $2, d, v, r from unnest($1::int8[], $3::bool[], $4::bytea[], $5::bytea[]) as w(z, d, v, r)
                      where not exists (select 1 from bad)),
       raise_seq as (select count(setval('${seq}', $9)) as n from (select 1) one
                     where not exists (select 1 from bad) and $9 > (select last_value from ${seq}))
       select b.i, b.cur_tid, b.cur_deleted from raise_seq left join bad b on true order by b.i`,
  };
}

/** The check parameters ($10..$12): serials above the bigint range never match, so they are sent as -1. */
export function checkParams(checks: readonly SerialCheck[]): [Oid[], Tid[], boolean[]] {
  return [checks.map((c) => c.oid), checks.map((c) => (c.serial > MAX_BIGINT ? -1n : c.serial)), checks.map((c) => c.isDelete)];
}

/** Throws the error of the first failed check (in call order), as `storeMany` raised it before the vote held it. */
export function throwFirstFailure(rows: readonly FailedCheckRow[], checks: readonly SerialCheck[]): void {
  const first = rows.find((r) => r.i !== null);
  if (first === undefined || first.i === null) return;
  const check = checks[Number(first.i) - 1]!;
  const committed = first.cur_tid !== null && first.cur_deleted !== true ? first.cur_tid : undefined;
  if (check.isDelete) {
    if (committed === undefined) throw new POSKeyError(`oid ${toHex(check.oid)} has no current revision to delete`, check.oid);
    throw new ConflictError(check.oid, committed, check.serial, 'delete');
  }
  throw new ConflictError(check.oid, committed, check.serial);
}

/** The revision columns ($1, $3, $4, $5) of a batch of buffered writes. */
export function revisionColumns(part: readonly (readonly [Oid, BufferedWrite])[]): [Oid[], boolean[], Buffer[], Buffer[]] {
  return [part.map(([oid]) => oid), part.map(([, w]) => w.deleted), part.map(([, w]) => w.row.data), part.map(([, w]) => w.row.refs)];
}
