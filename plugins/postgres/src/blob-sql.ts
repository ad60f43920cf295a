/** The blob handlerton's SQL, schema-qualified, as named statements. */
import pg from 'pg';
import type { Statement } from './storage-sql.js';

/** Builds the blob statements for `schema`. */
export function blobStatements(schema: string) {
  const t = (table: string): string => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}`;
  const named = (name: string, text: string): Statement => ({ name: `htb_${name}`, text });
  const rev = t('blob_revision');
  const rc = t('blob_revision_chunk');
  const chunk = t('blob_chunk');
  const txn = t('txn');
  const pending = t('blob_pending_ref');
  /**
   * A revision is readable once committed ('c'), or once prepared ('p') when the storage
   * transaction of its tid committed in this schema (a PgStorage sharing it): another client's reader
   * must not fail between that client's storage COMMIT and its blob commit, nor forever when the
   * client was killed in between. (With another storage engine the txn table stays empty.)
   */
  const visible = (r: string): string => `(${r}.state = 'c' or (${r}.state = 'p' and exists (select 1 from ${txn} x where x.tid = ${r}.revision)))`;
  return {
    newBlob: named('new_blob', `select nextval('${schema}.blob_seq') as id`),
    bumpBlobs: named('bump_blobs', `select setval('${schema}.blob_seq', $1) where $1 > (select last_value from ${schema}.blob_seq)`),
    revision: named('revision', `select size from ${rev} r where r.blob_id = $1 and r.revision = $2 and ${visible('r')}`),
    latest: named('latest', `select max(r.revision) as revision from ${rev} r where r.blob_id = $1 and ${visible('r')}`),
    refcount: named('refcount', `select record_refs from ${rev} where blob_id = $1 and revision = $2 and state = 'c'`),
    chunkMap: named('chunk_map', `select idx, chunk_id from ${rc} where blob_id = $1 and revision = $2`),
    readChunk: named(
      'read_chunk',
      `select substring(c.data from $4 for $5) as data from ${rc} r join ${chunk} c on c.chunk_id = r.chunk_id
       where r.blob_id = $1 and r.revision = $2 and r.idx = $3`,
    ),
    readChunkById: named('read_chunk_by_id', `select substring(data from $2 for $3) as data from ${chunk} where chunk_id = $1`),
    insertChunk: named('insert_chunk', `insert into ${chunk} (data) values ($1) returning chunk_id`),
    insertRevision: named('insert_revision', `insert into ${rev} (blob_id, revision, size, state, txn_key, oid) values ($1, $2, $3, 'p', $4, $5)`),
    insertPendingRefs: named(
      'insert_pending_refs',
      `insert into ${pending} (txn_key, blob_id, revision, n, tid, witness) select $1, b, v, n, $5, $6 from unnest($2::int8[], $3::int8[], $4::int4[]) as x(b, v, n)`,
    ),
    /** Counts a prepared transaction's pending references once: whoever moves them first (its client or a recovering one). */
    applyPendingRefs: named(
      'apply_pending_refs',
      `with moved as (delete from ${pending} where txn_key = $1 returning blob_id, revision, n)
       update ${rev} r set record_refs = r.record_refs + m.n
       from (select blob_id, revision, sum(n)::int8 as n from moved group by blob_id, revision) m
       where r.blob_id = m.blob_id and r.revision = m.revision`,
    ),
    dropPendingRefs: named('drop_pending_refs', `delete from ${pending} where txn_key = $1`),
    preparedRevisions: named('prepared_revisions', `select txn_key, blob_id, revision, oid from ${rev} where state = 'p' and txn_key is not null`),
    pendingTransactions: named('pending_transactions', `select distinct txn_key, tid, witness from ${pending}`),
    newClient: named('new_client', `select nextval('${schema}.blob_client_seq') as id`),
    insertRevisionChunks: named(
      'insert_revision_chunks',
      `insert into ${rc} (blob_id, revision, idx, chunk_id) select $1, $2, i, c from unnest($3::int4[], $4::int8[]) as x(i, c)`,
    ),
    publish: named('publish', `update ${rev} set state = 'c', txn_key = null where txn_key = $1 and state = 'p'`),
    releaseRefs: named(
      'release_refs',
      `update ${rev} r set record_refs = greatest(r.record_refs - x.n, 0) from unnest($1::int8[], $2::int8[], $3::int8[]) as x(b, v, n)
       where r.blob_id = x.b and r.revision = x.v`,
    ),
    committedAmong: named(
      'committed_among',
      `select r.blob_id, r.revision from ${rev} r join unnest($1::int8[], $2::int8[]) as x(b, v) on r.blob_id = x.b and r.revision = x.v
       where ${visible('r')}`,
    ),
    unprepare: named('unprepare', `delete from ${rev} where txn_key = $1 and state = 'p' returning blob_id, revision`),
    garbage: named('garbage', `select blob_id, revision from ${rev} where state = 'c' and record_refs <= 0 limit $1`),
    candidateChunks: named(
      'candidate_chunks',
      `select r.chunk_id from ${rc} r join unnest($1::int8[], $2::int8[]) as x(b, v) on r.blob_id = x.b and r.revision = x.v`,
    ),
    dropRevisions: named(
      'drop_revisions',
      `delete from ${rev} r using unnest($1::int8[], $2::int8[]) as x(b, v)
       where r.blob_id = x.b and r.revision = x.v and r.state = 'c' and r.record_refs <= 0 returning r.blob_id, r.revision, r.size`,
    ),
    dropOrphanChunks: named(
      'drop_orphan_chunks',
      `delete from ${chunk} c where c.chunk_id = any($1::int8[]) and not exists (select 1 from ${rc} x where x.chunk_id = c.chunk_id)`,
    ),
  };
}

/** The blob statements of one schema. */
export type BlobStatements = ReturnType<typeof blobStatements>;
