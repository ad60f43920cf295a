/** Storage reads that are not hot paths: history (a walk of prepared lookups) and iteration (plain kysely queries). */
import {
  CorruptionError,
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
import type { SqliteConnection } from './connection.js';
import { decodeOidList } from './oid-list.js';
import { checkLink, checkRecordRow, checkTxnRow } from './record-check.js';
import { currentPointer } from './revision-chain.js';
import type { StorageStatements } from './storage-statements.js';
import { yieldToLoop } from './yield.js';

const PAGE = 64;
const OIDS_PER_QUERY = 500;

/** Revisions read between two event-loop yields by a history walk. */
const HISTORY_STEP = 64;

/** Up to `size` revisions of `oid`, newest first (empty when unknown): its revision chain from the current one. */
export async function readHistory(conn: SqliteConnection, sql: StorageStatements, oid: Oid, size: number | undefined): Promise<HistoryEntry[]> {
  const entries: HistoryEntry[] = [];
  let tid: Tid | null = conn.read('history', () => currentPointer(sql, conn.file, oid)?.tid ?? null);
  while (tid !== null && (size === undefined || entries.length < size)) {
    const stepEnd = entries.length + HISTORY_STEP;
    tid = conn.read('history', () => {
      let at: Tid | null = tid;
      let linkedFrom: Tid | null = null;
      while (at !== null && entries.length < stepEnd && (size === undefined || entries.length < size)) {
        const row = sql.revisionSize.get({ oid, tid: at });
        const txn = row === undefined ? undefined : sql.txnMeta.get({ tid: at });
        if (row === undefined || txn === undefined) {
          // The current revision must exist, and so must one a link read in this step names; the
          // first of a later step may have been packed away while the walk yielded.
          if (entries.length === 0) throw new CorruptionError(`oid ${oid}: its current revision ${at} is missing`, conn.file);
          if (row === undefined && linkedFrom !== null) {
            throw new CorruptionError(`oid ${oid}: its revision ${at}, which revision ${linkedFrom} replaces, is missing`, conn.file);
          }
          return null;
        }
        checkLink(conn.file, oid, at, row);
        if (row.prev_tid !== null && row.prev_tid >= at) {
          throw new CorruptionError(`oid ${oid} revision ${at}: it replaces revision ${row.prev_tid}, which is not older`, conn.file);
        }
        entries.push({
          tid: at,
          time: tidToDate(at),
          user: txn.user,
          description: txn.description,
          extension: parseExtension(txn.extension),
          size: Number(row.bytes),
          deleted: row.deleted !== 0n,
        });
        linkedFrom = at;
        at = row.prev_tid;
      }
      return at;
    });
    if (tid !== null) await yieldToLoop();
  }
  return entries;
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
          .selectFrom('revision')
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
      // Only a pack removes revisions, and it marks their transaction packed: a revision of an
      // unpacked one that does not read back is damage (a misrouted seek), not an empty slot.
      if (txn.status !== 'p' && records.length !== oids.length) {
        throw new CorruptionError(`transaction ${txn.tid}: ${oids.length - records.length} of its ${oids.length} revisions are missing`, conn.file);
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
