/**
 * SQLite's own consistency checks (`Storage.verify`, `BlobHandlerton.verify`), read-only:
 * `PRAGMA integrity_check` and the cross-table queries in a worker thread, every row's checksum (transactions, revisions and
 * their links, current pointers; blob chunks), cross-table consistency the engine relies on
 * (every revision's transaction, every current pointer's revision, every mapped chunk), and the
 * WAL frames SQLite would silently ignore (wal-verify.ts). Rows are read in pages, yielding to the
 * event loop between them.
 */
import { open } from 'node:fs/promises';
import { toHex, VerifyCollector, type EngineVerifyReport, type VerifyObserver } from '@handlerton/framework';
import { chunkChecksum } from './checksum.js';
import { writerLockFile, type SqliteConnection } from './connection.js';
import { integrityCheck, type ConsistencyQuery } from './integrity-check.js';
import { checkLink, checkPointer, checkRecordRow, checkTxnRow } from './record-check.js';
import { walProblems } from './wal-verify.js';
import { yieldToLoop } from './yield.js';

const PAGE_ROWS = 500;
const CHUNK_ROWS = 16;

/** Runs `fn`; an exception (SQLITE_CORRUPT, a checksum CorruptionError) becomes a problem naming `file`. */
function guard(c: VerifyCollector, file: string, what: string, fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (error) {
    c.problem(file, undefined, `${what}: ${error instanceof Error ? error.message : String(error)}`);
    return false;
  }
}

/** Reads a table in pages ordered by `key` (one or two integer columns), calling `check` for each row. */
async function eachRow<R extends Record<string, unknown>>(
  conn: SqliteConnection,
  c: VerifyCollector,
  table: string,
  columns: string,
  key: readonly string[],
  limit: number,
  check: (row: R) => void,
): Promise<void> {
  const order = key.join(', ');
  const after = key.length === 1 ? `${key[0]} > ?` : `(${order}) > (${key.map(() => '?').join(', ')})`;
  const first = conn.db.prepare(`SELECT ${columns} FROM ${table} ORDER BY ${order} LIMIT ${limit}`);
  const next = conn.db.prepare(`SELECT ${columns} FROM ${table} WHERE ${after} ORDER BY ${order} LIMIT ${limit}`);
  let last: unknown[] | undefined;
  for (;;) {
    let rows: R[] = [];
    if (!guard(c, conn.file, `reading ${table}`, () => (rows = (last === undefined ? first.all() : next.all(...last)) as R[]))) return;
    for (const row of rows) guard(c, conn.file, table, () => check(row));
    if (rows.length < limit) return;
    const end = rows[rows.length - 1]!;
    last = key.map((k) => end[k]);
    await yieldToLoop();
  }
}

/** An integer column value as the CLI prints ids: 16 hex digits. */
function hex(value: unknown): string {
  return typeof value === 'bigint' ? toHex(value) : String(value);
}

/** Cross-table checks of the records file (full scans: run in the integrity worker). */
const RECORDS_QUERIES: readonly ConsistencyQuery[] = [
  {
    sql: 'SELECT r.oid, r.tid FROM revision r WHERE NOT EXISTS (SELECT 1 FROM txn t WHERE t.tid = r.tid)',
    describe: (r) => `oid ${hex(r['oid'])} revision ${hex(r['tid'])}: no transaction row for its tid`,
  },
  {
    sql: 'SELECT p.oid, p.tid FROM object_current p WHERE NOT EXISTS (SELECT 1 FROM revision r WHERE r.tid = p.tid AND r.oid = p.oid AND r.deleted = p.deleted)',
    describe: (r) => `oid ${hex(r['oid'])}: its current pointer names revision ${hex(r['tid'])}, which the revision table does not hold`,
  },
  {
    sql: 'SELECT r.oid, MAX(r.tid) AS tid FROM revision r GROUP BY r.oid HAVING MAX(r.tid) IS NOT (SELECT p.tid FROM object_current p WHERE p.oid = r.oid)',
    describe: (r) => `oid ${hex(r['oid'])}: its newest revision ${hex(r['tid'])} is not its current pointer`,
  },
];

/** Cross-table checks of the blobs file. */
const BLOBS_QUERIES: readonly ConsistencyQuery[] = [
  {
    sql: 'SELECT m.revision_id, m.seq, m.chunk_id FROM revision_chunk m WHERE NOT EXISTS (SELECT 1 FROM chunk k WHERE k.id = m.chunk_id)',
    describe: (r) => `blob revision row ${String(r['revision_id'])} maps chunk ${String(r['seq'])} to chunk row ${String(r['chunk_id'])}, which does not exist`,
  },
  {
    sql: 'SELECT m.revision_id FROM revision_chunk m WHERE NOT EXISTS (SELECT 1 FROM blob_revision r WHERE r.id = m.revision_id)',
    describe: (r) => `a chunk map row names blob revision row ${String(r['revision_id'])}, which does not exist`,
  },
  {
    sql: 'SELECT r.id, r.base_id FROM blob_revision r WHERE r.base_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM blob_revision b WHERE b.id = r.base_id)',
    describe: (r) => `blob revision row ${String(r['id'])} is based on row ${String(r['base_id'])}, which does not exist`,
  },
];

/**
 * The 100-byte file header fields SQLite itself does not check on a read-only open but the engine
 * relies on: the magic, and the read and write format versions 2 (WAL). A write version above 2 makes
 * SQLite open the file read-only, so every writable open of the engine fails.
 */
async function checkHeader(file: string, c: VerifyCollector): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(100);
    const { bytesRead } = await handle.read(head, 0, 100, 0);
    c.count('file headers');
    if (bytesRead < 100 || head.toString('latin1', 0, 16) !== 'SQLite format 3\0') {
      c.problem(file, 0, 'the file does not start with a whole SQLite header');
      return;
    }
    if (head[18] !== 2 || head[19] !== 2) c.problem(file, 18, `the header's write/read format versions are ${head[18]}/${head[19]}, not 2/2 (WAL): SQLite would refuse to write the file`);
  } finally {
    await handle.close();
  }
}

/** The WAL frames SQLite would ignore, as problems naming the WAL. */
async function checkWalFile(conn: SqliteConnection, c: VerifyCollector): Promise<void> {
  let pageSize = 0;
  guard(c, conn.file, 'page_size', () => (pageSize = Number(conn.db.pragma('page_size', { simple: true }))));
  const { frames, problems } = await walProblems(conn.file, pageSize);
  c.count('WAL frames', frames);
  for (const p of problems) c.problem(`${conn.file}-wal`, p.offset, p.message);
}

/** Checks the records file of `conn`. */
export async function verifyRecordsFile(conn: SqliteConnection, observer?: VerifyObserver): Promise<EngineVerifyReport> {
  const c = new VerifyCollector('sqlite-blobs', observer);
  const file = conn.file;
  await checkHeader(file, c);
  await integrityCheck(file, c, false, RECORDS_QUERIES);
  await integrityCheck(writerLockFile(file), c, true);
  await checkWalFile(conn, c);
  type Txn = { tid: bigint; user: string; description: string; extension: string; oids: Uint8Array; crc: bigint | null };
  await eachRow<Txn>(conn, c, 'txn', 'tid, user, description, extension, oids, crc', ['tid'], PAGE_ROWS, (row) => {
    c.count('transactions');
    checkTxnRow(file, row);
  });
  type Rev = { oid: bigint; tid: bigint; prev_tid: bigint | null; deleted: bigint; data: Uint8Array | null; refs: Uint8Array | null; crc: bigint | null; link: bigint | null };
  await eachRow<Rev>(conn, c, 'revision', 'oid, tid, prev_tid, deleted, data, refs, crc, link', ['tid', 'oid'], PAGE_ROWS, (row) => {
    c.count('records');
    checkRecordRow(file, row.oid, row);
    checkLink(file, row.oid, row.tid, row);
  });
  type Pointer = { oid: bigint; tid: bigint; deleted: bigint; crc: bigint | null };
  await eachRow<Pointer>(conn, c, 'object_current', 'oid, tid, deleted, crc', ['oid'], PAGE_ROWS, (row) => {
    c.count('current pointers');
    checkPointer(file, row.oid, row);
  });
  return c.report();
}

/** Checks the blobs file of `conn`. */
export async function verifyBlobsFile(conn: SqliteConnection, observer?: VerifyObserver): Promise<EngineVerifyReport> {
  const c = new VerifyCollector('sqlite-blobs', observer);
  const file = conn.file;
  await checkHeader(file, c);
  await integrityCheck(file, c, false, BLOBS_QUERIES);
  await integrityCheck(writerLockFile(file), c, true);
  await checkWalFile(conn, c);
  await eachRow<{ id: bigint; data: Uint8Array | null; crc: bigint | null }>(conn, c, 'chunk', 'id, data, crc', ['id'], CHUNK_ROWS, (row) => {
    c.count('chunks');
    const data = row.data ?? new Uint8Array(0);
    c.count('chunk bytes', data.length);
    if (row.crc === null || Number(row.crc) !== chunkChecksum(data)) c.problem(file, undefined, `chunk ${row.id} fails its checksum`);
  });
  await eachRow<{ id: bigint; state: string; size: bigint; refcount: bigint }>(conn, c, 'blob_revision', 'id, state, size, refcount', ['id'], PAGE_ROWS, (row) => {
    c.count('revisions');
    if (!['draft', 'prepared', 'committed', 'retired'].includes(row.state)) c.problem(file, undefined, `blob revision row ${row.id} has state '${row.state}'`);
    if (row.size < 0n || row.refcount < 0n) c.problem(file, undefined, `blob revision row ${row.id} has size ${row.size} and refcount ${row.refcount}`);
  });
  return c.report();
}
