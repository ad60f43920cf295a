/** Raw better-sqlite3 references: prepared statements, WAL, synchronous=FULL. */
import Database from 'better-sqlite3';
import { createReadStream } from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import type { Benchmark } from '../harness/context.js';
import { nowMs, yieldLoop } from '../harness/io.js';
import { keyPicker, loopMetrics, payloads, RECORDS_PER_TXN, timedLoops, type LoopResult } from '../harness/workload.js';

function openRaw(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`create table if not exists txn (tid integer primary key, meta blob not null);
           create table if not exists rec (oid integer not null, tid integer not null, data blob not null, primary key (oid, tid));`);
  return db;
}

/** Runs raw durable transactions (1 txn row + 100 × 200 B record rows) for `seconds` in a database under `dir`. */
export async function rawSqliteCommits(dir: string, seconds: number, onReady: () => void = () => {}): Promise<LoopResult> {
  const db = openRaw(path.join(dir, 'raw.db'));
  const insertTxn = db.prepare('insert into txn (tid, meta) values (?, ?)');
  const insertRec = db.prepare('insert into rec (oid, tid, data) values (?, ?, ?)');
  const data = payloads();
  const meta = Buffer.from('{}');
  let oid = 1;
  let tid = 1;
  const commit = db.transaction(() => {
    insertTxn.run(tid, meta);
    for (let r = 0; r < RECORDS_PER_TXN; r += 1) {
      insertRec.run(oid, tid, data[r % data.length]);
      oid += 1;
    }
    tid += 1;
  });
  onReady();
  try {
    // Synchronous statements: one committer; the await lets the loop breathe between transactions.
    return await timedLoops(1, seconds, async () => {
      commit();
      await yieldLoop();
    });
  } finally {
    db.close();
  }
}

/** Durable transactions of 1 transaction row + 100 × 200 B record rows (the same shape as an engine commit). */
export const sqliteCommit: Benchmark = async (ctx) => {
  return loopMetrics(await rawSqliteCommits(ctx.scratch, ctx.num('seconds', 3), () => ctx.markBaseline()));
};

/** Dataset: `count` records (oids 1..count) in the raw schema. */
export const sqliteDataset: Benchmark = async (ctx) => {
  const count = ctx.num('count');
  const db = openRaw(path.join(ctx.scratch, 'raw.db'));
  db.pragma('synchronous = OFF');
  const insertRec = db.prepare('insert into rec (oid, tid, data) values (?, ?, ?)');
  const data = payloads();
  const start = nowMs();
  for (let first = 1; first <= count; first += 10_000) {
    const last = Math.min(count, first + 9_999);
    db.transaction(() => {
      for (let oid = first; oid <= last; oid += 1) insertRec.run(oid, 1, data[oid % data.length]);
    })();
    await yieldLoop();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { buildMs: nowMs() - start };
};

/** Random point selects (newest revision of an oid) over a dataset. */
export const sqliteLoad: Benchmark = async (ctx) => {
  const count = ctx.num('count');
  const seconds = ctx.num('seconds', 3);
  const db = new Database(path.join(ctx.dataset(ctx.str('dataset')), 'raw.db'));
  const select = db.prepare('select tid, data from rec where oid = ? order by tid desc limit 1');
  const pick = keyPicker(count);
  ctx.markBaseline();
  let i = 0;
  const read = async (): Promise<void> => {
    if (select.get(pick() + 1) === undefined) throw new Error('sqlite: row missing');
    i += 1;
    if (i % 64 === 0) await yieldLoop();
  };
  await timedLoops(1, 1, read);
  const result = await timedLoops(1, seconds, read);
  db.close();
  return loopMetrics(result);
};

/** Chunk size and page size of the SQLite engine's blob file (its defaults). */
const CHUNK_BYTES = 256 * 1024;
const BLOB_PAGE_BYTES = 65536;

/**
 * The raw peer of the SQLite engine's blob write: `src` cut into 256 KiB chunks, each inserted with
 * its CRC-32 and its map row in one unsynced transaction (synchronous=NORMAL, as the engine writes
 * draft chunks), then one synced transaction (synchronous=FULL) publishing the revision, in a WAL
 * database of 64 KiB pages under `dir`. Returns MiB/s over the whole write.
 */
export async function rawSqliteChunkWrite(dir: string, src: string): Promise<number> {
  const db = new Database(path.join(dir, 'raw-blobs.db'));
  try {
    db.pragma(`page_size = ${BLOB_PAGE_BYTES}`);
    db.pragma('journal_mode = WAL');
    db.exec(`create table chunk (id integer primary key, data blob not null, crc integer not null);
             create table revision_chunk (revision_id integer not null, seq integer not null, chunk_id integer not null,
                                          primary key (revision_id, seq)) without rowid;
             create table revision (id integer primary key, size integer not null, state text not null);`);
    const insertChunk = db.prepare('insert into chunk (data, crc) values (?, ?)');
    const mapChunk = db.prepare('insert into revision_chunk (revision_id, seq, chunk_id) values (1, ?, ?)');
    const writeChunk = db.transaction((seq: number, data: Buffer) => {
      const { lastInsertRowid } = insertChunk.run(data, crc32(data));
      mapChunk.run(seq, lastInsertRowid);
    });
    const start = nowMs();
    db.pragma('synchronous = NORMAL');
    let seq = 0;
    let size = 0;
    for await (const piece of createReadStream(src, { highWaterMark: CHUNK_BYTES })) {
      const data = piece as Buffer;
      writeChunk.immediate(seq, data);
      seq += 1;
      size += data.length;
      await yieldLoop();
    }
    db.pragma('synchronous = FULL');
    db.prepare("insert into revision (id, size, state) values (1, ?, 'committed')").run(size);
    return size / (1024 * 1024) / ((nowMs() - start) / 1000);
  } finally {
    db.close();
  }
}
