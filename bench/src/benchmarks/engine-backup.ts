/**
 * Incremental backup (issue 15): builds a database of ~`bytes` (99% in 1 MiB blobs, at least 100 of
 * them, smaller below 100 MiB; 1% in 1 KiB records), takes a full `handlerton backup`, writes new revisions of 1% of the blobs and 1% of
 * the records, takes an incremental backup, and reports the bytes of both against the database.
 * The backups run as the operator runs them: the `handlerton` command, a separate process.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openDatabase, type Database, type Oid } from '@handlerton/framework';
import type { Benchmark } from '../harness/context.js';
import { engineLocation, engineName, type EngineName } from '../harness/engines.js';
import { diskUsage, MiB, nowMs } from '../harness/io.js';

const run = promisify(execFile);
/** Largest blob: 1 MiB (smaller databases get smaller blobs, so that 1% is still whole blobs). */
const MAX_BLOB = MiB;
const RECORD = 1024;
const RECORDS_PER_TXN = 100;
const BLOBS_PER_TXN = 8;
/** Bytes a blob write hands over at a time: blobs are streamed, never held whole. */
const WRITE_CHUNK = 64 * 1024;

/** What `handlerton --json backup` prints (the fields used here). */
interface BackupJson {
  readonly full: boolean;
  readonly bytes: number;
  readonly transactions: number;
  readonly blobRevisions: number;
}

/** The `handlerton` executable beside the framework this bench imports. */
function handlertonBin(): string {
  return fileURLToPath(new URL('../../bin/handlerton.js', import.meta.resolve('@handlerton/framework')));
}

async function backup(db: string, dir: string): Promise<{ result: BackupJson; ms: number }> {
  const start = nowMs();
  const { stdout } = await run(process.execPath, [handlertonBin(), '--json', 'backup', db, dir], { maxBuffer: 16 * MiB });
  return { result: JSON.parse(stdout) as BackupJson, ms: nowMs() - start };
}

/** Streams `size` bytes from a pool of random chunks (offset by `seed`, so revisions differ) into a blob handle. */
async function writeBlob(handle: { write(data: Uint8Array): Promise<number> }, pool: readonly Buffer[], seed: number, size: number): Promise<void> {
  for (let at = 0, i = seed; at < size; at += WRITE_CHUNK, i++) await handle.write(pool[i % pool.length]!);
}

/** Writes `count` new blobs and `records` records; returns their oids. */
async function build(db: Database, count: number, size: number, records: number, pool: readonly Buffer[]): Promise<{ blobs: Oid[]; records: Oid[] }> {
  const blobs: Oid[] = [];
  for (let first = 0; first < count; first += BLOBS_PER_TXN) {
    const made = await db.transaction(async (tx) => {
      const oids: Oid[] = [];
      for (let i = first; i < Math.min(count, first + BLOBS_PER_TXN); i++) {
        const blob = await tx.createBlob();
        const handle = await blob.open('w');
        await writeBlob(handle, pool, i, size);
        await handle.close();
        oids.push(blob.oid);
      }
      return oids;
    });
    blobs.push(...made);
  }
  const oids: Oid[] = [];
  for (let first = 0; first < records; first += RECORDS_PER_TXN) {
    const made = await db.transaction(async (tx) => {
      const out: Oid[] = [];
      for (let i = first; i < Math.min(records, first + RECORDS_PER_TXN); i++) out.push(await tx.create(pool[i % pool.length]!.subarray(0, RECORD)));
      return out;
    });
    oids.push(...made);
  }
  return { blobs, records: oids };
}

/** New revisions of every `step`-th blob and record (1% with step 100); returns the bytes written. */
async function change(db: Database, made: { blobs: Oid[]; records: Oid[] }, size: number, step: number, pool: readonly Buffer[]): Promise<number> {
  let bytes = 0;
  const blobs = made.blobs.filter((_, i) => i % step === 0);
  for (let first = 0; first < blobs.length; first += BLOBS_PER_TXN) {
    await db.transaction(async (tx) => {
      for (const oid of blobs.slice(first, first + BLOBS_PER_TXN)) {
        const handle = await (await tx.blob(oid)).open('w');
        await writeBlob(handle, pool, Number(oid) + 7, size);
        await handle.close();
        bytes += size;
      }
    });
  }
  const records = made.records.filter((_, i) => i % step === 0);
  for (let first = 0; first < records.length; first += RECORDS_PER_TXN) {
    await db.transaction(async (tx) => {
      for (const oid of records.slice(first, first + RECORDS_PER_TXN)) {
        await tx.write(oid, pool[(Number(oid) + 3) % pool.length]!.subarray(RECORD, 2 * RECORD));
        bytes += RECORD;
      }
    });
  }
  return bytes;
}

function target(engine: EngineName, scratch: string): { config: string; dir: string } {
  const location = engineLocation(engine, scratch);
  if (location === undefined) throw new Error(`${engine} keeps nothing on disk: no backup to measure`);
  return { config: `${engine}:${location}`, dir: engine === 'sqlite' ? scratch : location };
}

/** One trial: build, full backup, change 1%, incremental backup. */
export const engineBackupIncremental: Benchmark = async (ctx) => {
  const engine = engineName(ctx.str('engine'));
  const bytes = ctx.num('bytes');
  const step = ctx.num('step', 100);
  const { config, dir } = target(engine, path.join(ctx.scratch, 'db'));
  await fsp.mkdir(path.join(ctx.scratch, 'db'), { recursive: true });
  const backups = path.join(ctx.scratch, 'backups');
  const pool = Array.from({ length: 32 }, () => randomBytes(WRITE_CHUNK));
  const blobSize = Math.max(WRITE_CHUNK, Math.min(MAX_BLOB, Math.floor((bytes * 0.99) / step / WRITE_CHUNK) * WRITE_CHUNK));
  const blobCount = Math.max(step, Math.floor((bytes * 0.99) / blobSize));
  const recordCount = Math.max(step, Math.floor((bytes * 0.01) / RECORD));
  const logical = blobCount * blobSize + recordCount * RECORD;

  const buildStart = nowMs();
  let db = await openDatabase(config);
  let made: { blobs: Oid[]; records: Oid[] };
  try {
    made = await build(db, blobCount, blobSize, recordCount, pool);
  } finally {
    await db.close();
  }
  const buildMs = nowMs() - buildStart;
  const dbBytes = await diskUsage(dir);
  ctx.markBaseline();
  const full = await backup(config, backups);

  db = await openDatabase(config);
  let changed: number;
  try {
    changed = await change(db, made, blobSize, step, pool);
  } finally {
    await db.close();
  }
  const incremental = await backup(config, backups);
  if (!full.result.full || incremental.result.full) throw new Error('expected a full, then an incremental backup');
  return {
    dbMiB: dbBytes / MiB,
    blobs: blobCount,
    blobKiB: blobSize / 1024,
    records: recordCount,
    logicalMiB: logical / MiB,
    buildMs,
    changedMiB: changed / MiB,
    changedPct: (changed / logical) * 100,
    fullMiB: full.result.bytes / MiB,
    fullMs: full.ms,
    fullMiBps: full.result.bytes / MiB / (full.ms / 1000),
    incMiB: incremental.result.bytes / MiB,
    incMs: incremental.ms,
    incPctOfFull: (incremental.result.bytes / full.result.bytes) * 100,
    incPctOfDb: (incremental.result.bytes / dbBytes) * 100,
    incTransactions: incremental.result.transactions,
    incBlobRevisions: incremental.result.blobRevisions,
  };
};
