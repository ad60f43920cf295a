/**
 * Writes one backup file: every transaction after the previous backup's last one, up to the
 * database's last transaction when the backup starts (a consistent cut: later commits wait for the
 * next run). Written under a temporary name, synced, renamed, then read back and checked.
 */
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobHandlerton, RevisionReader } from '../contracts/blob-handlerton.js';
import { InvalidArgumentError, NotSupportedError } from '../contracts/errors.js';
import { toHex, type Tid } from '../contracts/ids.js';
import type { IteratedTransaction } from '../contracts/records.js';
import type { Storage } from '../contracts/storage.js';
import { BACKUP_MAGIC, BACKUP_VERSION, backupFileName, FRAME_END, FRAME_TXN, jsonBlock, type FrameRecord, type TxnFrame } from './backup-format.js';
import { listBackups, syncDirectory, verifyBackupFile } from './backup-reader.js';

/** What one backup run wrote. */
export interface BackupResult {
  /** The file written; null when the database had nothing new since the last backup. */
  readonly file: string | null;
  readonly from: Tid;
  readonly to: Tid;
  readonly transactions: number;
  readonly blobRevisions: number;
  /** Size of the file written. */
  readonly bytes: number;
  /** True for the first backup into the directory (a full one). */
  readonly full: boolean;
}

const CHUNK = 1024 * 1024;

/** Backs up `source` into `dir`: a full backup the first time, then only what is new. */
export async function writeBackup(
  source: { readonly storage: Storage; readonly blobs: BlobHandlerton },
  dir: string,
  onTransaction: (done: number) => void = () => {},
): Promise<BackupResult> {
  if (!source.storage.capabilities.iterator) throw new NotSupportedError('iterator', source.storage.name);
  await mkdir(dir, { recursive: true });
  const existing = await listBackups(dir);
  const databaseId = toHex(source.storage.databaseId);
  const previous = existing.at(-1);
  if (previous !== undefined && previous.header.databaseId !== databaseId) {
    throw new InvalidArgumentError(`backup directory ${dir} holds backups of database ${previous.header.databaseId}, not of ${databaseId}`);
  }
  const to = source.storage.lastTransaction();
  if (previous !== undefined && to < previous.to) {
    throw new InvalidArgumentError(
      `the database's last transaction ${toHex(to)} is older than the last backup's ${toHex(previous.to)} in ${dir}: it is not the history these backups continue (restored from an older state?); back it up into a new directory`,
    );
  }
  const from = previous === undefined ? 0n : previous.to + 1n;
  if (previous !== undefined && to < from) return { file: null, from, to: previous.to, transactions: 0, blobRevisions: 0, bytes: 0, full: false };

  const name = backupFileName((previous?.seq ?? 0) + 1, from, to);
  const temporary = join(dir, `.${name}.tmp-${process.pid}`);
  const out = new HashedFile(await open(temporary, 'wx'));
  let transactions = 0;
  let blobRevisions = 0;
  try {
    await out.write(BACKUP_MAGIC);
    await out.write(jsonBlock(null, { version: BACKUP_VERSION, databaseId, from: toHex(from), to: toHex(to), created: new Date().toISOString() }));
    for await (const txn of source.storage.iterator(from === 0n ? undefined : from, to)) {
      blobRevisions += await writeTransaction(out, txn, source.blobs);
      transactions += 1;
      onTransaction(transactions);
    }
    const end = Buffer.alloc(5);
    end[0] = FRAME_END;
    end.writeUInt32BE(transactions, 1);
    await out.write(end);
    await out.finish();
  } catch (error) {
    await out.abandon(temporary);
    throw error;
  }
  const file = join(dir, name);
  await rename(temporary, file);
  await syncDirectory(dir);
  const checked = await verifyBackupFile(file);
  if (checked.transactions !== transactions) throw new Error(`backup ${file} reads back ${checked.transactions} transactions, ${transactions} were written`);
  return { file, from, to, transactions, blobRevisions, bytes: out.size, full: previous === undefined };
}

/** Writes one transaction's frame, record data and new blob revisions; returns how many revisions it stored. */
async function writeTransaction(out: HashedFile, txn: IteratedTransaction, blobs: BlobHandlerton): Promise<number> {
  const readers: RevisionReader[] = [];
  try {
    const records: FrameRecord[] = [];
    for (const rec of txn.records) {
      const frameBlobs = [];
      for (const ref of rec.record?.refs.blobs ?? []) {
        if (ref.revision === 0n && blobs.capabilities.mode !== 'dataTransactional') {
          throw new NotSupportedError(`backup of ${blobs.capabilities.mode} blob data (blob ${toHex(ref.blobId)} is not in the storage's history)`, blobs.name);
        }
        let size = -1;
        if (ref.revision === txn.tid) {
          const reader = await blobs.openRevision(ref.blobId, ref.revision);
          readers.push(reader);
          size = reader.size;
        }
        frameBlobs.push({ blobId: toHex(ref.blobId), revision: toHex(ref.revision), size });
      }
      records.push({
        oid: toHex(rec.oid),
        tid: toHex(rec.tid),
        deleted: rec.record === null,
        size: rec.record?.data.length ?? 0,
        oids: (rec.record?.refs.oids ?? []).map(toHex),
        blobs: frameBlobs,
      });
    }
    const frame: TxnFrame = { tid: toHex(txn.tid), status: txn.status, meta: txn.meta, records };
    await out.write(jsonBlock(FRAME_TXN, frame));
    for (const rec of txn.records) if (rec.record !== null) await out.write(rec.record.data);
    for (const reader of readers) await copyRevision(reader, out);
    return readers.length;
  } finally {
    await Promise.allSettled(readers.map((r) => r.close()));
  }
}

async function copyRevision(reader: RevisionReader, out: HashedFile): Promise<void> {
  const buffer = new Uint8Array(Math.min(CHUNK, Math.max(1, reader.size)));
  let position = 0;
  while (position < reader.size) {
    const n = await reader.read(buffer, position);
    if (n === 0) throw new Error(`blob revision ended at ${position} of ${reader.size} bytes`);
    await out.write(buffer.subarray(0, n));
    position += n;
  }
}

/** A file written front to back, hashing what it writes; `finish` appends the digest and syncs. */
class HashedFile {
  readonly #handle: FileHandle;
  readonly #hash: Hash = createHash('sha256');
  size = 0;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  async write(data: Uint8Array): Promise<void> {
    this.#hash.update(data);
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.#handle.write(data, done, data.length - done, this.size + done);
      done += bytesWritten;
    }
    this.size += data.length;
  }

  async finish(): Promise<void> {
    const digest = this.#hash.digest();
    await this.#handle.write(digest, 0, digest.length, this.size);
    this.size += digest.length;
    await this.#handle.datasync();
    await this.#handle.close();
  }

  async abandon(path: string): Promise<void> {
    await this.#handle.close().catch(() => undefined);
    await rm(path, { force: true });
  }
}
