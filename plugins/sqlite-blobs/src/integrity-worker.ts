/**
 * Worker thread for `verify`: opens one database file read-only, runs `PRAGMA integrity_check` (which
 * reads every page and can take seconds on a large file: never on the main event loop) and then each
 * cross-table query it was given (full scans too), and posts the messages integrity_check returned
 * (`['ok']` when the file is sound) and each query's rows (at most 100, integers as bigint), or
 * `{ error }` when it could not run.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, queries } = workerData as { readonly file: string; readonly queries: readonly string[] };
try {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.defaultSafeIntegers(true);
    db.pragma('cache_size = -2048');
    const rows = db.pragma('integrity_check(1000)') as { integrity_check: string }[];
    const results = queries.map((sql) => {
      try {
        return { rows: db.prepare(`${sql} LIMIT 100`).all() };
      } catch (error) {
        return { error: error instanceof Error ? error.message : String(error) };
      }
    });
    parentPort?.postMessage({ messages: rows.map((row) => row.integrity_check), results });
  } finally {
    db.close();
  }
} catch (error) {
  parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) });
}
