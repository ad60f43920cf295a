/** `handlerton stats <db>`: size on disk, object/revision/blob counts, last transaction and the engines' own figures. */
import type { Command } from 'commander';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { resolveConfig, type DatabaseConfig } from '../../config/database-config.js';
import type { BlobHandlerton } from '../../contracts/blob-handlerton.js';
import { NotSupportedError } from '../../contracts/errors.js';
import type { Oid } from '../../contracts/ids.js';
import type { EngineStats, Storage } from '../../contracts/storage.js';
import { lastTransactionFields, type Report } from '../output.js';
import { openNamedDatabase } from '../default-database.js';
import type { Output } from './history.js';

/** Registers `stats`. */
export function registerStatsCommand(program: Command, output: Output): void {
  program
    .command('stats')
    .description('print size on disk, object, revision and blob counts, the last transaction and engine detail (read-only; reads the whole history)')
    .argument('[config]', 'engine config or path of an existing database (default: $HANDLERTON_DB, then handlerton.json)')
    .action(async (named: string | undefined) => {
      const { db, config: target } = await openNamedDatabase(named, 'inspect');
      try {
        const counts = await countHistory(db.storage, db.blobs);
        const onDisk = await diskUsage(target);
        const storage = await db.storage.stats();
        const blobs = (await db.blobs.stats?.()) ?? {};
        output(statsReport({ engines: db.engines, ...lastTransactionFields(db.lastTransaction()), onDisk, ...counts, storageDetail: storage, blobDetail: blobs }));
      } finally {
        await db.close();
      }
    });
}

/** Counts from one pass over the history. */
interface HistoryCounts {
  readonly transactions: number;
  readonly revisions: number;
  readonly deleteMarkers: number;
  readonly objects: number;
  readonly blobObjects: number;
  readonly blobRevisions: number;
  readonly blobBytes: number;
  readonly currentBlobBytes: number;
}

/** Iterates every transaction: revisions and delete markers, live objects, blob revisions and their sizes. */
async function countHistory(storage: Storage, blobs: BlobHandlerton): Promise<HistoryCounts> {
  if (!storage.capabilities.iterator) throw new NotSupportedError('iterator', storage.name);
  const current = new Map<Oid, string | null | undefined>(); // oid -> its current blob revision key, null: deleted, undefined: plain record
  const sizes = new Map<string, number>();
  let transactions = 0;
  let revisions = 0;
  let deleteMarkers = 0;
  for await (const txn of storage.iterator()) {
    transactions += 1;
    for (const rec of txn.records) {
      revisions += 1;
      if (rec.record === null) {
        deleteMarkers += 1;
        current.set(rec.oid, null);
        continue;
      }
      let key: string | undefined;
      for (const ref of rec.record.refs.blobs) {
        if (ref.revision === 0n || ref.handlerton !== blobs.name) continue;
        key = `${ref.blobId}:${ref.revision}`;
        if (!sizes.has(key)) sizes.set(key, await revisionSize(blobs, ref.blobId, ref.revision));
      }
      current.set(rec.oid, key);
    }
  }
  let objects = 0;
  let blobObjects = 0;
  let currentBlobBytes = 0;
  for (const key of current.values()) {
    if (key === null) continue;
    objects += 1;
    if (key === undefined) continue;
    blobObjects += 1;
    currentBlobBytes += Math.max(0, sizes.get(key) ?? 0);
  }
  let blobBytes = 0;
  for (const size of sizes.values()) blobBytes += Math.max(0, size);
  return { transactions, revisions, deleteMarkers, objects, blobObjects, blobRevisions: sizes.size, blobBytes, currentBlobBytes };
}

/** The size of one blob revision; -1 when it cannot be opened (packed away, or damaged: `verify` says which). */
async function revisionSize(blobs: BlobHandlerton, blobId: bigint, revision: bigint): Promise<number> {
  try {
    const reader = await blobs.openRevision(blobId, revision);
    const size = reader.size;
    await reader.close();
    return size;
  } catch {
    return -1;
  }
}

/** Bytes on disk under the storage and blob locations (a directory: everything in it; a file: it and its siblings named after it); null when not on disk. */
async function diskUsage(config: DatabaseConfig): Promise<number | null> {
  const resolved = resolveConfig(config);
  const files = new Set<string>();
  let onDisk = false;
  for (const location of new Set([resolved.storage.location, resolved.blobs.location])) {
    if (location === undefined || location === '' || /^[a-z]+:\/\//i.test(location)) continue;
    const info = await stat(location).catch(() => null);
    if (info === null) continue;
    onDisk = true;
    if (info.isDirectory()) await collectFiles(location, files);
    else {
      const name = basename(location);
      for (const entry of await readdir(dirname(location))) if (entry.startsWith(name)) files.add(join(dirname(location), entry));
    }
  }
  if (!onDisk) return null;
  let bytes = 0;
  for (const file of files) bytes += await stat(file).then((s) => (s.isFile() ? s.size : 0), () => 0);
  return bytes;
}

async function collectFiles(dir: string, into: Set<string>): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await collectFiles(path, into);
    else into.add(path);
  }
}

/** Everything `stats` prints. */
interface StatsFields extends HistoryCounts {
  readonly engines: { readonly storage: string; readonly blobs: string };
  readonly lastTransaction: string;
  readonly lastCommit: string | null;
  readonly onDisk: number | null;
  readonly storageDetail: EngineStats;
  readonly blobDetail: EngineStats;
}

function statsReport(s: StatsFields): Report {
  const detail = (label: string, stats: EngineStats): string[] => {
    const entries = Object.entries(stats);
    return entries.length === 0 ? [] : [`${label}:`, ...entries.map(([k, v]) => `  ${k}: ${typeof v === 'number' ? v.toLocaleString('en-US') : String(v)}`)];
  };
  const n = (v: number): string => v.toLocaleString('en-US');
  return {
    json: s,
    lines: [
      `engines:          ${s.engines.storage} / ${s.engines.blobs}`,
      `size on disk:     ${s.onDisk === null ? 'not on local disk' : `${n(s.onDisk)} bytes`}`,
      `last transaction: ${s.lastCommit === null ? 'none (empty database)' : `${s.lastTransaction} at ${s.lastCommit}`}`,
      `transactions:     ${n(s.transactions)}`,
      `objects:          ${n(s.objects)} current (${n(s.revisions)} revisions, ${n(s.deleteMarkers)} delete markers)`,
      `blobs:            ${n(s.blobObjects)} current, ${n(s.currentBlobBytes)} bytes (${n(s.blobRevisions)} revisions in history, ${n(s.blobBytes)} bytes)`,
      ...detail('storage detail', s.storageDetail),
      ...detail('blob detail', s.blobDetail),
    ],
  };
}
