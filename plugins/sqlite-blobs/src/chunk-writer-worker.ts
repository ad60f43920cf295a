/**
 * Worker thread that writes blob chunks on its own connection, so that a chunk write waiting for
 * the disk (the kernel throttles writers of many dirty pages, up to ~100 ms a call measured here)
 * never blocks the main event loop. Each message writes one chunk of one draft (its bytes in a shared
 * buffer, copied by SQLite at bind) with its CRC-32 (checksum.ts) in one unsynced
 * transaction (the draft becomes durable with the synced prepare on the main connection, whose WAL
 * fsync covers these frames too). Messages: `{ id, rev, seq, slot, length }` answers `{ id }` or
 * `{ id, error, code }`; `{ stop: true }` closes the connection and ends the thread. Its file I/O is
 * SQLite's (native): the engine context's `fs` cannot cross into a worker (README "Fault injection").
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { chunkChecksum } from './checksum.js';
import type { PortableStatement } from './prepared.js';

/** What the worker needs: the file and the chunk statements as compiled by kysely on the main thread. */
export interface ChunkWriterInit {
  readonly file: string;
  readonly busyTimeoutMs: number;
  readonly mapping: PortableStatement;
  readonly updateChunk: PortableStatement;
  readonly insertChunk: PortableStatement;
  readonly upsertMapping: PortableStatement;
}

/** One chunk to write: its bytes are the first `length` bytes of `slot`. */
export interface ChunkWriteRequest {
  readonly id: number;
  readonly rev: bigint;
  readonly seq: number;
  readonly slot: SharedArrayBuffer;
  readonly length: number;
}

const init = workerData as ChunkWriterInit;
const db = new Database(init.file, { timeout: init.busyTimeoutMs });
db.defaultSafeIntegers(true);
db.pragma('synchronous = NORMAL');
// It only appends chunks: a small page cache (4 pages of 64 KiB) is enough and keeps its memory flat.
db.pragma('cache_size = -256');

function prepare(portable: PortableStatement): (args: Readonly<Record<string, unknown>>) => unknown[] {
  return (args) => portable.params.map((p) => ('name' in p ? args[p.name] : p.value));
}

const statements = {
  mapping: db.prepare(init.mapping.sql),
  updateChunk: db.prepare(init.updateChunk.sql),
  insertChunk: db.prepare(init.insertChunk.sql),
  upsertMapping: db.prepare(init.upsertMapping.sql),
};
const bind = {
  mapping: prepare(init.mapping),
  updateChunk: prepare(init.updateChunk),
  insertChunk: prepare(init.insertChunk),
  upsertMapping: prepare(init.upsertMapping),
};

const writeChunk = db.transaction((rev: bigint, seq: number, data: Uint8Array) => {
  const crc = chunkChecksum(data);
  const current = statements.mapping.get(bind.mapping({ rev, seq })) as { chunk_id: bigint; own: bigint } | undefined;
  if (current !== undefined && current.own !== 0n) {
    statements.updateChunk.run(bind.updateChunk({ id: current.chunk_id, data, crc }));
  } else {
    const { lastInsertRowid } = statements.insertChunk.run(bind.insertChunk({ data, crc }));
    statements.upsertMapping.run(bind.upsertMapping({ rev, seq, chunk: BigInt(lastInsertRowid) }));
  }
});

parentPort?.on('message', (message: ChunkWriteRequest | { stop: true }) => {
  if ('stop' in message) {
    db.close();
    parentPort?.close();
    return;
  }
  try {
    writeChunk.immediate(message.rev, message.seq, Buffer.from(message.slot, 0, message.length));
    parentPort?.postMessage({ id: message.id });
  } catch (error) {
    const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
    parentPort?.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error), code: typeof code === 'string' ? code : undefined });
  }
});
