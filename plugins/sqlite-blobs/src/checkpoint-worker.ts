/**
 * Worker thread that runs WAL checkpoints on its own connection, so that copying the WAL into the
 * database file and its fsyncs never block the main event loop. Messages: `{ id }` runs one
 * PASSIVE checkpoint and answers `{ id, log, checkpointed }` (or `{ id, error }`); `{ stop: true }`
 * closes the connection and ends the thread. Its file I/O is SQLite's (native): the engine
 * context's `fs`, a JS object, cannot cross into a worker (README "Fault injection").
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

interface Init {
  readonly file: string;
  readonly busyTimeoutMs: number;
}

const init = workerData as Init;
const db = new Database(init.file, { timeout: init.busyTimeoutMs });
// Checkpoints sync the WAL before and the database file after copying (FULL and NORMAL both do).
db.pragma('synchronous = FULL');
// Checkpoints stream pages from the WAL to the database: a small page cache keeps the thread's memory flat.
db.pragma('cache_size = -256');

parentPort?.on('message', (message: { id?: number; stop?: boolean }) => {
  if (message.stop === true) {
    db.close();
    parentPort?.close();
    return;
  }
  try {
    const rows = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    const row = rows[0] ?? { busy: 0, log: 0, checkpointed: 0 };
    parentPort?.postMessage({ id: message.id, log: row.log, checkpointed: row.checkpointed });
  } catch (error) {
    parentPort?.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) });
  }
});
