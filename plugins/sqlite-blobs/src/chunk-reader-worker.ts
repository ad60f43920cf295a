/**
 * Worker thread that reads chunks of committed blob revisions on its own connection and copies each
 * into a SharedArrayBuffer owned by the asking reader. The main thread then allocates nothing per
 * chunk: measured here, the 256 KiB Buffer that better-sqlite3 returns for every chunk made V8 run
 * a mark-compact about every 100 ms while a large blob streamed out (pauses up to 30 ms on the
 * loop). Messages: `{ id, levels, seq, chunkSize, slot }` answers `{ id, length }` (-1: a hole,
 * reads as zeros) or `{ id, error, code }`; `{ stop: true }` ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { PortableStatement } from './prepared.js';

/** What the worker needs: the file and the chunk read statement as compiled by kysely. */
export interface ChunkReaderInit {
  readonly file: string;
  readonly busyTimeoutMs: number;
  readonly readChunk: PortableStatement;
}

/** One chunk to read: the revision's chain (row ids and visible limits), the chunk number, the target. */
export interface ChunkReadRequest {
  readonly id: number;
  readonly levels: readonly { readonly id: bigint; readonly limit: number }[];
  readonly seq: number;
  readonly chunkSize: number;
  readonly slot: SharedArrayBuffer;
}

const init = workerData as ChunkReaderInit;
const db = new Database(init.file, { timeout: init.busyTimeoutMs });
db.defaultSafeIntegers(true);
const readChunk = db.prepare(init.readChunk.sql);
const params = init.readChunk.params;

function read(request: ChunkReadRequest): number {
  for (const level of request.levels) {
    if (request.seq * request.chunkSize >= level.limit) return -1;
    const args: Readonly<Record<string, unknown>> = { rev: level.id, seq: request.seq };
    const row = readChunk.get(params.map((p) => ('name' in p ? args[p.name] : p.value))) as { data: Uint8Array } | undefined;
    if (row !== undefined) {
      const length = Math.min(row.data.length, request.slot.byteLength);
      new Uint8Array(request.slot, 0, length).set(row.data.subarray(0, length));
      return length;
    }
  }
  return -1;
}

parentPort?.on('message', (message: ChunkReadRequest | { stop: true }) => {
  if ('stop' in message) {
    db.close();
    parentPort?.close();
    return;
  }
  try {
    parentPort?.postMessage({ id: message.id, length: read(message) });
  } catch (error) {
    const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
    parentPort?.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error), code: typeof code === 'string' ? code : undefined });
  }
});
