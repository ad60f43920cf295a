/** The storage's hot-path statements (built by kysely, prepared once per connection). */
import type { SqliteConnection } from './connection.js';
import { arg } from './prepared.js';

/** Rows per multi-row revision insert. */
export const REVISION_BATCH = 25;

/** Parameters per revision row (the fields of revisionRow). */
export const REVISION_COLUMNS = 7;

/** The placeholders of one object_revision row, in column order. */
function revisionRow() {
  return {
    oid: arg<bigint>('oid'),
    tid: arg<bigint>('tid'),
    prev_tid: arg<bigint | null>('prevTid'),
    deleted: arg<number>('deleted'),
    data: arg<Uint8Array | null>('data'),
    refs: arg<Uint8Array | null>('refs'),
    crc: arg<number>('crc'),
  };
}

/** Prepared statements used by SqliteStorage. */
export function storageStatements(conn: SqliteConnection) {
  return {
    current: conn.query('s.current', (k) =>
      k.selectFrom('object_revision').select(['tid', 'deleted', 'data', 'refs', 'crc'])
        .where('oid', '=', arg<bigint>('oid')).orderBy('tid', 'desc').limit(1),
    ),
    currentSerial: conn.query('s.currentSerial', (k) =>
      k.selectFrom('object_revision').select(['tid', 'deleted'])
        .where('oid', '=', arg<bigint>('oid')).orderBy('tid', 'desc').limit(1),
    ),
    serial: conn.query('s.serial', (k) =>
      k.selectFrom('object_revision').select(['tid', 'deleted', 'data', 'refs', 'crc'])
        .where('oid', '=', arg<bigint>('oid')).where('tid', '=', arg<bigint>('tid')),
    ),
    before: conn.query('s.before', (k) =>
      k.selectFrom('object_revision').select(['tid', 'deleted', 'data', 'refs', 'crc'])
        .where('oid', '=', arg<bigint>('oid')).where('tid', '<', arg<bigint>('tid')).orderBy('tid', 'desc').limit(1),
    ),
    atOrBefore: conn.query('s.atOrBefore', (k) =>
      k.selectFrom('object_revision').select(['tid', 'deleted'])
        .where('oid', '=', arg<bigint>('oid')).where('tid', '<=', arg<bigint>('tid')).orderBy('tid', 'desc').limit(1),
    ),
    after: conn.query('s.after', (k) =>
      k.selectFrom('object_revision').select(['tid'])
        .where('oid', '=', arg<bigint>('oid')).where('tid', '>', arg<bigint>('tid')).orderBy('tid', 'asc').limit(1),
    ),
    exists: conn.query('s.exists', (k) =>
      k.selectFrom('object_revision').select(['tid']).where('oid', '=', arg<bigint>('oid')).limit(1),
    ),
    insertTxn: conn.query('s.insertTxn', (k) =>
      k.insertInto('txn').values({
        tid: arg<bigint>('tid'),
        user: arg<string>('user'),
        description: arg<string>('description'),
        extension: arg<string>('extension'),
        status: ' ',
        oids: arg<Uint8Array>('oids'),
        crc: arg<number>('crc'),
      }),
    ),
    insertRevision: conn.query('s.insertRevision', (k) => k.insertInto('object_revision').values(revisionRow())),
    // REVISION_BATCH rows in one statement: one call into SQLite instead of 25 (columns in this order).
    insertRevisions: conn.query('s.insertRevisions', (k) =>
      k.insertInto('object_revision').values(Array.from({ length: REVISION_BATCH }, revisionRow)),
    ),
    maxTid: conn.query('s.maxTid', (k) => k.selectFrom('txn').select((e) => e.fn.max('tid').as('tid'))),
    newestTxn: conn.query('s.newestTxn', (k) =>
      k.selectFrom('txn').select(['tid', 'user', 'description', 'extension', 'oids', 'crc']).orderBy('tid', 'desc').limit(1),
    ),
    maxOid: conn.query('s.maxOid', (k) => k.selectFrom('object_revision').select((e) => e.fn.max('oid').as('oid'))),
    // pack
    removable: conn.query('s.removable', (k) =>
      k.selectFrom('object_revision').select(['tid', 'refs'])
        .select((e) => e.fn.coalesce(e.fn('length', ['data']), e.lit(0)).as('bytes'))
        .where('oid', '=', arg<bigint>('oid')).where('tid', '<=', arg<bigint>('tid')),
    ),
    deleteUpTo: conn.query('s.deleteUpTo', (k) =>
      k.deleteFrom('object_revision').where('oid', '=', arg<bigint>('oid')).where('tid', '<=', arg<bigint>('tid')),
    ),
    markPacked: conn.query('s.markPacked', (k) =>
      k.updateTable('txn').set({ status: 'p' }).where('tid', '=', arg<bigint>('tid')),
    ),
    txnOids: conn.query('s.txnOids', (k) => k.selectFrom('txn').select('oids').where('tid', '=', arg<bigint>('tid'))),
    deleteTxn: conn.query('s.deleteTxn', (k) => k.deleteFrom('txn').where('tid', '=', arg<bigint>('tid'))),
    revisionExists: conn.query('s.revisionExists', (k) =>
      k.selectFrom('object_revision').select('tid').where('oid', '=', arg<bigint>('oid')).where('tid', '=', arg<bigint>('tid')),
    ),
  };
}

/** The statement set type. */
export type StorageStatements = ReturnType<typeof storageStatements>;
