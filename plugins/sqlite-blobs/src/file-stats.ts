/** The figures one SQLite file reports to `handlerton stats`: pages, free pages and the WAL's size. */
import { stat } from 'node:fs/promises';
import type { EngineStats } from '@handlerton/framework';
import type { SqliteConnection } from './connection.js';

/** Page size and counts (from SQLite's pragmas) and the WAL file's size, each name prefixed with `prefix`. */
export async function fileStats(conn: SqliteConnection, prefix: string): Promise<EngineStats> {
  const pages = Number(conn.db.pragma('page_count', { simple: true }));
  const free = Number(conn.db.pragma('freelist_count', { simple: true }));
  const walBytes = await stat(`${conn.file}-wal`).then((s) => s.size, () => 0);
  return {
    [`${prefix}File`]: conn.file,
    [`${prefix}PageSize`]: conn.pageSize,
    [`${prefix}Pages`]: pages,
    [`${prefix}FreePages`]: free,
    [`${prefix}WalBytes`]: walBytes,
  };
}
