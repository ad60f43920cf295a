/**
 * The storage's SQL, schema-qualified, as named statements: node-postgres parses a named statement
 * once per connection and reuses it (the hot paths: load, loadBefore, store checks, inserts).
 */
import pg from 'pg';

/** A named statement: `run(client, values)` executes it prepared. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

/**
 * The start of a commit in one simple-protocol round trip (the values are integers we made): BEGIN,
 * the lock timeout, (with `releaseBeforeFlush`) an asynchronous COMMIT for this transaction, the
 * commit lock, then the newest committed tid.
 */
export function beginCommitText(schema: string, lockKey: number, lockTimeoutMs: number, releaseBeforeFlush = false): string {
  const txn = `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier('txn')}`;
  const asyncCommit = releaseBeforeFlush ? ' set local synchronous_commit = off;' : '';
  return `begin; set local lock_timeout = ${Math.trunc(lockTimeoutMs)};${asyncCommit} select pg_advisory_xact_lock(${lockKey | 0}, 1); select coalesce(max(tid), 0) as tid from ${txn}`;
}

/**
 * The end of a commit, one round trip. Plain `commit` by default: PostgreSQL flushes the WAL (per the
 * server's `synchronous_commit`) before it makes the transaction visible and drops the commit lock.
 * With `releaseBeforeFlush` the COMMIT is asynchronous (visible and unlocked without waiting for the
 * flush) and is followed, in the same message, by a tiny transaction that writes one WAL record and
 * commits with the session's (the server's) `synchronous_commit`: its flush covers our commit record
 * too (the WAL is flushed in order, and concurrent flushes of several clients are grouped), so the
 * call returns once our commit is as durable as a plain COMMIT would have made it.
 */
export function finishCommitText(releaseBeforeFlush = false): string {
  return releaseBeforeFlush ? `commit; select pg_logical_emit_message(true, 'handlerton', 'flush')` : 'commit';
}

/** Builds the storage statements for `schema`. */
export function storageStatements(schema: string) {
  const t = (table: string): string => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}`;
  const os = t('object_state');
  const named = (name: string, text: string): Statement => ({ name: `ht_${name}`, text });
  return {
    load: named('load', `select tid, deleted, data, refs from ${os} where zoid = $1 order by tid desc limit 1`),
    loadSerial: named('load_serial', `select deleted, data, refs from ${os} where zoid = $1 and tid = $2`),
    loadBefore: named(
      'load_before',
      `select s.tid, s.deleted, s.data, s.refs,
         (select n.tid from ${os} n where n.zoid = $1 and n.tid > s.tid order by n.tid limit 1) as next_tid
       from ${os} s where s.zoid = $1 and s.tid < $2 order by s.tid desc limit 1`,
    ),
    exists: named('exists', `select 1 from ${os} where zoid = $1 limit 1`),
    lastTid: named('last_tid', `select coalesce(max(tid), 0) as tid from ${t('txn')}`),
    /**
     * The newest tid, the pack horizon and the objects changed in ($1, newest] by commits other than
     * the tids in $2, each with the newest such change: one row per object, or one row with a null
     * zoid when none changed.
     */
    sync: named(
      'sync_changes',
      `select l.tid, (select value from ${t('meta')} where key = 'pack_horizon') as horizon, c.zoid, c.changed
       from (select coalesce(max(tid), 0) as tid from ${t('txn')}) l
       left join lateral (select s.zoid, max(s.tid) as changed from ${os} s
                          where s.tid > $1 and s.tid <= l.tid and s.tid <> all($2::int8[]) group by s.zoid) c on true`,
    ),
    newOid: named('new_oid', `select nextval('${schema}.oid_seq') as oid`),
    insertStates: named(
      'insert_states',
      `insert into ${os} (zoid, tid, deleted, data, refs)
       select z, $2, d, v, r from unnest($1::int8[], $3::bool[], $4::bytea[], $5::bytea[]) as w(z, d, v, r)`,
    ),
    commitLock: named('commit_lock', `select pg_advisory_xact_lock($1, 1)`),
    history: named(
      'history',
      `select s.tid, s.deleted, length(s.data) as size, t.username, t.description, t.extension
       from ${os} s join ${t('txn')} t on t.tid = s.tid where s.zoid = $1 order by s.tid desc limit $2`,
    ),
    txnPage: named(
      'txn_page',
      `select tid, username, description, extension, packed from ${t('txn')} where tid >= $1 and tid <= $2 order by tid limit $3`,
    ),
    txnRecords: named('txn_records', `select zoid, deleted, data, refs from ${os} where tid = $1 order by zoid`),
    /**
     * The newest tid with the objects changed in (since, newest] by commits other than the tids in $2,
     * in one round trip: one row per object, or one row with a null zoid when none changed.
     */
    changedSinceLast: named(
      'changed_since_last',
      `select l.tid, c.zoid from (select coalesce(max(tid), 0) as tid from ${t('txn')}) l
       left join lateral (select distinct s.zoid from ${os} s where s.tid > $1 and s.tid <= l.tid and s.tid <> all($2::int8[])) c on true`,
    ),
    metaGet: named('meta_get', `select value from ${t('meta')} where key = $1`),
    metaInit: named('meta_init', `insert into ${t('meta')} (key, value) values ($1, $2) on conflict (key) do nothing`),
    metaRaise: named(
      'meta_raise',
      `insert into ${t('meta')} (key, value) values ($1, $2) on conflict (key) do update set value = excluded.value
       where ${t('meta')}.value::numeric < excluded.value::numeric`,
    ),
    packOids: named('pack_oids', `select distinct zoid from ${os} where zoid > $1 and tid <= $2 order by zoid limit $3`),
    packDelete: named(
      'pack_delete',
      `with cur as (select zoid, max(tid) as keep from ${os} where zoid = any($1::int8[]) and tid <= $2 group by zoid)
       delete from ${os} s using cur where s.zoid = cur.zoid and (s.tid < cur.keep or (s.tid = cur.keep and s.deleted))
       returning s.zoid, s.tid, s.refs, length(s.data) as size`,
    ),
    remaining: named('remaining', `select distinct zoid from ${os} where zoid = any($1::int8[])`),
    markPacked: named('mark_packed', `update ${t('txn')} set packed = true where tid = any($1::int8[])`),
    dropEmptyTxns: named(
      'drop_empty_txns',
      `delete from ${t('txn')} x where x.tid = any($1::int8[]) and not exists (select 1 from ${os} s where s.tid = x.tid)`,
    ),
    packLock: named('pack_lock', `select pg_try_advisory_lock($1, 2) as locked`),
    packUnlock: named('pack_unlock', `select pg_advisory_unlock($1, 2)`),
  };
}

/** The storage statements of one schema. */
export type StorageStatements = ReturnType<typeof storageStatements>;

/** Runs a named statement on `client` (a pool or a pinned connection). */
export async function run<R extends pg.QueryResultRow>(
  client: pg.Pool | pg.PoolClient,
  statement: Statement,
  values: readonly unknown[] = [],
): Promise<R[]> {
  const result = await client.query<R>({ name: statement.name, text: statement.text, values: values as unknown[] });
  return result.rows;
}

/** A 32-bit key for the advisory locks of `schema` (advisory locks are database-wide: one key space per schema). */
export function schemaLockKey(schema: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < schema.length; i++) {
    hash ^= schema.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
