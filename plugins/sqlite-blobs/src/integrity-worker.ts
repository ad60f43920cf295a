/**
 * Worker thread for `verify`: opens one database file read-only, runs `PRAGMA integrity_check` (which
 * reads every page and can take seconds on a large file: never on the main event loop) and posts the
 * messages it returned (`['ok']` when the file is sound), or `{ error }` when it could not run.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file } = workerData as { readonly file: string };
try {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('cache_size = -2048');
    const rows = db.pragma('integrity_check(1000)') as { integrity_check: string }[];
    parentPort?.postMessage({ messages: rows.map((row) => row.integrity_check) });
  } finally {
    db.close();
  }
} catch (error) {
  parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) });
}
