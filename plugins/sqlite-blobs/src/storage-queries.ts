/** Storage reads that are not hot paths, written as plain kysely queries: history and iteration. */
import {
  decodeRefs,
  NO_REFS,
  tidToDate,
  type HistoryEntry,
  type IteratedRecord,
  type IteratedTransaction,
  type Oid,
  type Tid,
  type TransactionMeta,
} from '@handlerton/framework';
import { sql } from 'kysely';
import type { SqliteConnection } from './connection.js';
import { decodeOidList } from './oid-list.js';
import { checkRecordRow, checkTxnRow } from './record-check.js';
import { yieldToLoop } from './yield.js';

const PAGE = 64;
const OIDS_PER_QUERY = 500;

/** Up to `size` revisions of `oid`, newest first (empty when unknown). */
export async function readHistory(conn: SqliteConnection, oid: Oid, size: number | undefined): Promise<HistoryEntry[]> {
  conn.check();
  let query = conn.kysely
    .selectFrom('object_revision as r')
    .innerJoin('txn as t', 't.tid', 'r.tid')
    .select(['r.tid', 'r.deleted', 't.user', 't.description', 't.extension'])
    .select(sql<bigint>`coalesce(length(r.data), 0)`.as('size'))
    .where('r.oid', '=', oid)
    .orderBy('r.tid', 'desc');
  if (size !== undefined) query = query.limit(size);
  const rows = await query.execute().catch((error: unknown) => {
    throw conn.fail(error, 'history');
  });
  return rows.map((row) => ({
    tid: row.tid,
    time: tidToDate(row.tid),
    user: row.user,
    description: row.description,
    extension: parseExtension(row.extension),
    size: Number(row.size),
    deleted: row.deleted !== 0n,
  }));
}

/** Committed transactions with start <= tid <= stop, in tid order, read page by page. */
export async function* iterateTransactions(conn: SqliteConnection, start: Tid, stop: Tid): AsyncGenerator<IteratedTransaction> {
  let cursor = start;
  let first = true;
  for (;;) {
    conn.check();
    const txns = await conn.kysely
      .selectFrom('txn')
      .selectAll()
      .where('tid', first ? '>=' : '>', cursor)
      .where('tid', '<=', stop)
      .orderBy('tid')
      .limit(PAGE)
      .execute()
      .catch((error: unknown) => {
        throw conn.fail(error, 'iterator');
      });
    first = false;
    if (txns.length === 0) return;
    for (const txn of txns) {
      checkTxnRow(conn.file, txn);
      const records: IteratedRecord[] = [];
      const oids = decodeOidList(txn.oids);
      for (let at = 0; at < oids.length; at += OIDS_PER_QUERY) {
        const rows = await conn.kysely
          .selectFrom('object_revision')
          .select(['oid', 'tid', 'deleted', 'data', 'refs', 'crc'])
          .where('tid', '=', txn.tid)
          .where('oid', 'in', oids.slice(at, at + OIDS_PER_QUERY))
          .orderBy('oid')
          .execute();
        for (const row of rows) {
          checkRecordRow(conn.file, row.oid, row);
          records.push({
            oid: row.oid,
            tid: row.tid,
            record:
              row.deleted !== 0n
                ? null
                : { data: row.data ?? new Uint8Array(0), refs: row.refs === null ? NO_REFS : decodeRefs(row.refs) },
          });
        }
      }
      const meta: TransactionMeta = { user: txn.user, description: txn.description, extension: parseExtension(txn.extension) };
      yield { tid: txn.tid, status: txn.status === 'p' ? 'p' : ' ', meta, records };
      cursor = txn.tid;
    }
    await yieldToLoop();
  }
}

function parseExtension(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
