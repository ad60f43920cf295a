/** Revision-level statements of the blob handlerton (built by kysely, prepared once per connection). */
import type { SqliteConnection } from './connection.js';
import { arg } from './prepared.js';

/** Prepared statements used by SqliteBlobs. */
export function blobStatements(conn: SqliteConnection) {
  return {
    insertBlob: conn.query('r.insertBlob', (k) => k.insertInto('blob').values({ created: arg<number>('created') })),
    ensureBlob: conn.query('r.ensureBlob', (k) =>
      k.insertInto('blob').orIgnore().values({ id: arg<bigint>('id'), created: arg<number>('created') }),
    ),
    committed: conn.query('r.committed', (k) =>
      k.selectFrom('blob_revision').select(['id', 'size', 'chunk_size', 'refcount', 'depth'])
        .where('blob_id', '=', arg<bigint>('blob')).where('revision', '=', arg<bigint>('revision')).where('state', '=', 'committed'),
    ),
    latest: conn.query('r.latest', (k) =>
      k.selectFrom('blob_revision').select((e) => e.fn.max('revision').as('revision'))
        .where('blob_id', '=', arg<bigint>('blob')).where('state', '=', 'committed'),
    ),
    insertDraft: conn.query('r.insertDraft', (k) =>
      k.insertInto('blob_revision').values({
        blob_id: arg<bigint>('blob'),
        revision: null,
        state: 'draft',
        oid: arg<bigint>('oid'),
        size: arg<number>('size'),
        chunk_size: arg<number>('chunkSize'),
        refcount: 0,
        token: arg<string>('token'),
        base_id: arg<bigint | null>('base'),
        base_limit: arg<number>('baseLimit'),
        depth: arg<number>('depth'),
        holes: arg<number>('holes'),
      }),
    ),
    chainLink: conn.query('r.chainLink', (k) =>
      k.selectFrom('blob_revision').select(['base_id', 'base_limit', 'holes']).where('id', '=', arg<bigint>('id')),
    ),
    hasDependents: conn.query('r.hasDependents', (k) =>
      k.selectFrom('blob_revision').select('id').where('base_id', '=', arg<bigint>('id')).limit(1),
    ),
    retire: conn.query('r.retire', (k) =>
      k.updateTable('blob_revision').set({ state: 'retired' }).where('id', '=', arg<bigint>('id')),
    ),
    retiredFree: conn.query('r.retiredFree', (k) =>
      k.selectFrom('blob_revision as r').select('r.id').where('r.state', '=', 'retired')
        .where((e) => e.not(e.exists(e.selectFrom('blob_revision as d').select('d.id').whereRef('d.base_id', '=', 'r.id'))))
        .limit(64),
    ),
    deleteRow: conn.query('r.deleteRow', (k) => k.deleteFrom('blob_revision').where('id', '=', arg<bigint>('id'))),
    prepareRow: conn.query('r.prepareRow', (k) =>
      k.updateTable('blob_revision')
        .set({ revision: arg<bigint>('revision'), state: 'prepared', size: arg<number>('size') })
        .where('id', '=', arg<bigint>('id')),
    ),
    insertBlobTxn: conn.query('r.insertBlobTxn', (k) =>
      k.insertInto('blob_txn').values({ token: arg<string>('token'), tid: arg<bigint>('tid'), witness: arg<bigint | null>('witness') }),
    ),
    deleteBlobTxn: conn.query('r.deleteBlobTxn', (k) => k.deleteFrom('blob_txn').where('token', '=', arg<string>('token'))),
    addPendingRef: conn.query('r.addPendingRef', (k) =>
      k.insertInto('pending_ref')
        .values({ token: arg<string>('token'), blob_id: arg<bigint>('blob'), revision: arg<bigint>('revision'), count: arg<number>('count') })
        .onConflict((oc) =>
          oc.columns(['token', 'blob_id', 'revision']).doUpdateSet((e) => ({ count: e(e.ref('pending_ref.count'), '+', e.ref('excluded.count')) })),
        ),
    ),
    pendingRefs: conn.query('r.pendingRefs', (k) =>
      k.selectFrom('pending_ref').select(['blob_id', 'revision', 'count']).where('token', '=', arg<string>('token')),
    ),
    deletePendingRefs: conn.query('r.deletePendingRefs', (k) => k.deleteFrom('pending_ref').where('token', '=', arg<string>('token'))),
    publish: conn.query('r.publish', (k) =>
      k.updateTable('blob_revision').set({ state: 'committed', token: null })
        .where('token', '=', arg<string>('token')).where('state', '=', 'prepared'),
    ),
    addRefcount: conn.query('r.addRefcount', (k) =>
      k.updateTable('blob_revision')
        .set((e) => ({ refcount: e(e.ref('refcount'), '+', arg<bigint>('count')) }))
        .where('blob_id', '=', arg<bigint>('blob')).where('revision', '=', arg<bigint>('revision')).where('state', '=', 'committed'),
    ),
    releaseRefcount: conn.query('r.releaseRefcount', (k) =>
      k.updateTable('blob_revision')
        .set((e) => ({ refcount: e.fn('max', [e(e.ref('refcount'), '-', arg<bigint>('count')), e.lit(0)]) }))
        .where('blob_id', '=', arg<bigint>('blob')).where('revision', '=', arg<bigint>('revision')).where('state', '=', 'committed'),
    ),
    tokenRows: conn.query('r.tokenRows', (k) =>
      k.selectFrom('blob_revision').select(['id', 'blob_id', 'revision', 'oid', 'chunk_size', 'size'])
        .where('token', '=', arg<string>('token')),
    ),
    stillReclaimable: conn.query('r.stillReclaimable', (k) =>
      k.selectFrom('blob_revision').select(['id'])
        .where('id', '=', arg<bigint>('id')).where('state', '=', 'committed').where('refcount', '<=', 0n),
    ),
    reclaimable: conn.query('r.reclaimable', (k) =>
      k.selectFrom('blob_revision').select(['id', 'size'])
        .where('state', '=', 'committed').where('refcount', '<=', 0n).where('id', '>', arg<bigint>('after'))
        .orderBy('id').limit(64),
    ),
    preparedTxns: conn.query('r.preparedTxns', (k) => k.selectFrom('blob_txn').select(['token', 'tid', 'witness'])),
  };
}

/** The statement set type. */
export type BlobStatements = ReturnType<typeof blobStatements>;
