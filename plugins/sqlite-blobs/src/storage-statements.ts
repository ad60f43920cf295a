/** The storage's hot-path statements (built by kysely, prepared once per connection). */
import { sql } from 'kysely';
import type { SqliteConnection } from './connection.js';
import { arg } from './prepared.js';
import { LINK_CHECKSUM_FUNCTION } from './record-check.js';

/** Rows per multi-row revision insert. */
export const REVISION_BATCH = 25;

/** Parameters per revision row (the fields of revisionRow). */
export const REVISION_COLUMNS = 8;

/** The placeholders of one revision row, in column order. */
function revisionRow() {
  return {
    oid: arg<bigint>('oid'),
    tid: arg<bigint>('tid'),
    prev_tid: arg<bigint | null>('prevTid'),
    deleted: arg<number>('deleted'),
    data: arg<Uint8Array | null>('data'),
    refs: arg<Uint8Array | null>('refs'),
    crc: arg<number>('crc'),
    link: arg<number>('link'),
  };
}

/** Rows per multi-row upsert of current pointers. */
export const CURRENT_BATCH = 25;

/** Parameters per current-pointer row (oid, tid, deleted, crc). */
export const CURRENT_COLUMNS = 4;

/** The placeholders of one object_current row, in column order. */
function currentRow() {
  return { oid: arg<bigint>('oid'), tid: arg<bigint>('tid'), deleted: arg<number>('deleted'), crc: arg<number>('crc') };
}

/** Prepared statements used by SqliteStorage. */
export function storageStatements(conn: SqliteConnection) {
  /** Inserts `rows` current pointers, replacing the pointer of an object that has one. */
  const upsertCurrent = (rows: number) =>
    conn.query(`s.upsertCurrent${rows}`, (k) =>
      k.insertInto('object_current')
        .values(Array.from({ length: rows }, currentRow))
        .onConflict((oc) => oc.column('oid').doUpdateSet((e) => ({ tid: e.ref('excluded.tid'), deleted: e.ref('excluded.deleted'), crc: e.ref('excluded.crc') }))),
    );
  return {
    /** The newest revision's tid and delete flag of an object, with the pointer's checksum (one seek in object_current). */
    currentSerial: conn.query('s.currentSerial', (k) =>
      k.selectFrom('object_current').select(['tid', 'deleted', 'crc']).where('oid', '=', arg<bigint>('oid')),
    ),
    /** One revision by its key. */
    serial: conn.query('s.serial', (k) =>
      k.selectFrom('revision').select(['tid', 'deleted', 'data', 'refs', 'crc'])
        .where('tid', '=', arg<bigint>('tid')).where('oid', '=', arg<bigint>('oid')),
    ),
    /** The tid of the revision a revision replaced (the chain loadBefore, history and pack walk). */
    prevOf: conn.query('s.prevOf', (k) =>
      k.selectFrom('revision').select(['prev_tid', 'deleted', 'link'])
        .where('tid', '=', arg<bigint>('tid')).where('oid', '=', arg<bigint>('oid')),
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
    insertRevision: conn.query('s.insertRevision', (k) => k.insertInto('revision').values(revisionRow())),
    // REVISION_BATCH rows in one statement: one call into SQLite instead of 25 (columns in this order).
    insertRevisions: conn.query('s.insertRevisions', (k) =>
      k.insertInto('revision').values(Array.from({ length: REVISION_BATCH }, revisionRow)),
    ),
    upsertCurrent: upsertCurrent(1),
    // CURRENT_BATCH pointers in one statement (columns in currentRow order).
    upsertCurrents: upsertCurrent(CURRENT_BATCH),
    maxTid: conn.query('s.maxTid', (k) => k.selectFrom('txn').select((e) => e.fn.max('tid').as('tid'))),
    newestTxn: conn.query('s.newestTxn', (k) =>
      k.selectFrom('txn').select(['tid', 'user', 'description', 'extension', 'oids', 'crc']).orderBy('tid', 'desc').limit(1),
    ),
    maxOid: conn.query('s.maxOid', (k) => k.selectFrom('object_current').select((e) => e.fn.max('oid').as('oid'))),
    // history
    txnMeta: conn.query('s.txnMeta', (k) => k.selectFrom('txn').select(['user', 'description', 'extension']).where('tid', '=', arg<bigint>('tid'))),
    revisionSize: conn.query('s.revisionSize', (k) =>
      k.selectFrom('revision').select(['prev_tid', 'deleted', 'link'])
        .select((e) => e.fn.coalesce(e.fn('length', ['data']), e.lit(0)).as('bytes'))
        .where('tid', '=', arg<bigint>('tid')).where('oid', '=', arg<bigint>('oid')),
    ),
    // pack
    currentOids: conn.query('s.currentOids', (k) =>
      k.selectFrom('object_current').select('oid').where('oid', '>', arg<bigint>('after')).orderBy('oid').limit(arg<number>('limit')),
    ),
    removable: conn.query('s.removable', (k) =>
      k.selectFrom('revision').select(['prev_tid', 'deleted', 'link', 'refs'])
        .select((e) => e.fn.coalesce(e.fn('length', ['data']), e.lit(0)).as('bytes'))
        .where('tid', '=', arg<bigint>('tid')).where('oid', '=', arg<bigint>('oid')),
    ),
    deleteRevision: conn.query('s.deleteRevision', (k) =>
      k.deleteFrom('revision').where('tid', '=', arg<bigint>('tid')).where('oid', '=', arg<bigint>('oid')),
    ),
    endChain: conn.query('s.endChain', (k) =>
      k.updateTable('revision').set({ prev_tid: null, link: sql<bigint>`${sql.raw(LINK_CHECKSUM_FUNCTION)}(oid, tid, null, deleted)` }).where('tid', '=', arg<bigint>('tid')).where('oid', '=', arg<bigint>('oid')),
    ),
    deleteCurrent: conn.query('s.deleteCurrent', (k) => k.deleteFrom('object_current').where('oid', '=', arg<bigint>('oid'))),
    markPacked: conn.query('s.markPacked', (k) =>
      k.updateTable('txn').set({ status: 'p' }).where('tid', '=', arg<bigint>('tid')),
    ),
    txnOids: conn.query('s.txnOids', (k) => k.selectFrom('txn').select('oids').where('tid', '=', arg<bigint>('tid'))),
    deleteTxn: conn.query('s.deleteTxn', (k) => k.deleteFrom('txn').where('tid', '=', arg<bigint>('tid'))),
    revisionExists: conn.query('s.revisionExists', (k) =>
      k.selectFrom('revision').select('tid').where('tid', '=', arg<bigint>('tid')).where('oid', '=', arg<bigint>('oid')),
    ),
  };
}

/** The statement set type. */
export type StorageStatements = ReturnType<typeof storageStatements>;
