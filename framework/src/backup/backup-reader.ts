/**
 * Reads a backup directory: lists and checks its files, and serves them as a read-only source of
 * transactions and blob revisions (the shape `copyTransactions` reads), so a restore is a copy.
 */
import { createHash } from 'node:crypto';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobCapabilities, StorageCapabilities } from '../contracts/capabilities.js';
import { blobCapabilities, storageCapabilities } from '../contracts/capabilities.js';
import type { RevisionReader } from '../contracts/blob-handlerton.js';
import { CorruptionError, POSKeyError } from '../contracts/errors.js';
import { toHex, type BlobId, type Tid } from '../contracts/ids.js';
import type { IteratedRecord, IteratedTransaction } from '../contracts/records.js';
import { BACKUP_FILE, BACKUP_MAGIC, FRAME_END, FRAME_TXN, frameIds, hexId, type BackupHeader, type TxnFrame } from './backup-format.js';

/** The handlerton name blob references read from a backup carry. */
export const BACKUP_HANDLERTON = 'backup';
const DIGEST = 32;

/** One backup file of a directory. */
export interface BackupFile {
  readonly path: string;
  readonly seq: number;
  readonly from: Tid;
  readonly to: Tid;
  readonly header: BackupHeader;
  /** Where the first transaction frame starts. */
  readonly dataStart: number;
}

/** The backup files of `dir` in order; CorruptionError when the sequence has a gap or a file's header disagrees with its name. */
export async function listBackups(dir: string): Promise<BackupFile[]> {
  const names = (await readdir(dir)).filter((n) => BACKUP_FILE.test(n)).sort();
  const files: BackupFile[] = [];
  for (const name of names) {
    const [, seq, from, to] = BACKUP_FILE.exec(name)!;
    const path = join(dir, name);
    const { header, dataStart } = await readHeader(path);
    const file: BackupFile = { path, seq: Number(seq), from: BigInt(`0x${from}`), to: BigInt(`0x${to}`), header, dataStart };
    if (hexId(header.from, path, 'from') !== file.from || hexId(header.to, path, 'to') !== file.to) throw new CorruptionError('backup header disagrees with its file name', path);
    const previous = files.at(-1);
    if (previous !== undefined && (file.seq !== previous.seq + 1 || file.from !== previous.to + 1n || file.header.databaseId !== previous.header.databaseId)) {
      throw new CorruptionError(`backup ${name} does not continue ${previous.path} (a file is missing or from another database)`, path);
    }
    files.push(file);
  }
  return files;
}

async function readHeader(path: string): Promise<{ header: BackupHeader; dataStart: number }> {
  const handle = await open(path, 'r');
  try {
    const head = await readExactly(handle, 0, BACKUP_MAGIC.length + 4, path);
    if (!head.subarray(0, BACKUP_MAGIC.length).equals(BACKUP_MAGIC)) throw new CorruptionError('not a handlerton backup file', path);
    const length = head.readUInt32BE(BACKUP_MAGIC.length);
    const header = parseJson<BackupHeader>(await readExactly(handle, head.length, length, path), path);
    return { header, dataStart: head.length + length };
  } finally {
    await handle.close();
  }
}

/** Recomputes a file's digest and walks its frames; CorruptionError on any mismatch. Returns its transaction count. */
export async function verifyBackupFile(path: string): Promise<{ transactions: number }> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size < BACKUP_MAGIC.length + DIGEST) throw new CorruptionError('backup file is truncated', path);
    const hash = createHash('sha256');
    const chunk = Buffer.alloc(1024 * 1024);
    for (let at = 0; at < size - DIGEST; ) {
      const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, size - DIGEST - at), at);
      if (bytesRead === 0) throw new CorruptionError('backup file is truncated', path);
      hash.update(chunk.subarray(0, bytesRead));
      at += bytesRead;
    }
    const stored = await readExactly(handle, size - DIGEST, DIGEST, path);
    if (!hash.digest().equals(stored)) throw new CorruptionError('backup file checksum mismatch (damaged or incomplete)', path);
  } finally {
    await handle.close();
  }
  let transactions = 0;
  for await (const _ of framesOf((await listBackupsOf(path))[0]!)) transactions += 1;
  return { transactions };
}

/** The single file at `path` as a BackupFile (header only, no sequence checks). */
async function listBackupsOf(path: string): Promise<BackupFile[]> {
  const { header, dataStart } = await readHeader(path);
  return [{ path, seq: 0, from: hexId(header.from, path, 'from'), to: hexId(header.to, path, 'to'), header, dataStart }];
}

/** A transaction frame as read: where its data and new blob revisions lie in the file. */
interface ReadFrame {
  readonly frame: TxnFrame;
  readonly dataAt: number;
  readonly next: number;
}

async function* framesOf(file: BackupFile): AsyncGenerator<ReadFrame> {
  const handle = await open(file.path, 'r');
  try {
    const { size } = await handle.stat();
    let at = file.dataStart;
    let count = 0;
    for (;;) {
      const head = await readExactly(handle, at, 5, file.path);
      if (head[0] === FRAME_END) {
        if (head.readUInt32BE(1) !== count || at + 5 + DIGEST !== size) throw new CorruptionError('backup trailer disagrees with its frames', file.path);
        return;
      }
      if (head[0] !== FRAME_TXN) throw new CorruptionError(`unknown backup frame at offset ${at}`, file.path);
      const length = head.readUInt32BE(1);
      const frame = parseJson<TxnFrame>(await readExactly(handle, at + 5, length, file.path), file.path);
      const dataAt = at + 5 + length;
      let bytes = 0;
      for (const rec of frame.records) {
        bytes += rec.size;
        for (const blob of rec.blobs) if (blob.size > 0) bytes += blob.size;
      }
      at = dataAt + bytes;
      if (at > size - DIGEST - 5) throw new CorruptionError('backup file is truncated', file.path);
      count += 1;
      yield { frame, dataAt, next: at };
    }
  } finally {
    await handle.close();
  }
}

/** The backup files of a directory as a source of transactions and blob revisions, for `copyTransactions`. */
export class BackupSource {
  readonly storage: { readonly name: string; readonly capabilities: StorageCapabilities; iterator(start?: Tid, stop?: Tid): AsyncIterable<IteratedTransaction> };
  readonly blobs: {
    readonly name: string;
    readonly capabilities: BlobCapabilities;
    openRevision(blobId: BlobId, revision: Tid): Promise<RevisionReader>;
    latestRevision(blobId: BlobId): Promise<Tid | null>;
  };
  readonly #revisions = new Map<string, { path: string; at: number; size: number }>();

  constructor(readonly files: readonly BackupFile[]) {
    const caps = storageCapabilities({ iterator: true, durable: true, readOnly: true });
    this.storage = { name: BACKUP_HANDLERTON, capabilities: caps, iterator: (start, stop) => this.#transactions(start ?? 0n, stop) };
    this.blobs = {
      name: BACKUP_HANDLERTON,
      capabilities: blobCapabilities({ mode: 'dataTransactional', seek: true }),
      openRevision: async (blobId, revision) => this.#open(blobId, revision),
      latestRevision: async () => null,
    };
  }

  /** The last tid the backups hold. */
  get lastTransaction(): Tid {
    return this.files.at(-1)?.to ?? 0n;
  }

  async *#transactions(start: Tid, stop: Tid | undefined): AsyncGenerator<IteratedTransaction> {
    for (const file of this.files) {
      if (stop !== undefined && file.from > stop) return;
      const handle = await open(file.path, 'r');
      try {
        for await (const { frame, dataAt } of framesOf(file)) {
          const tid = hexId(frame.tid, file.path, 'tid');
          if (stop !== undefined && tid > stop) return;
          let at = dataAt;
          const records: IteratedRecord[] = [];
          const created: { key: string; size: number }[] = [];
          for (const rec of frame.records) {
            const ids = frameIds(rec, file.path);
            const data = rec.deleted ? null : await readExactly(handle, at, rec.size, file.path);
            at += rec.size;
            const blobs = ids.blobs.map((b) => ({ handlerton: BACKUP_HANDLERTON, blobId: b.blobId, revision: b.revision }));
            for (const b of ids.blobs) if (b.size >= 0) created.push({ key: `${b.blobId}:${b.revision}`, size: b.size });
            records.push({ oid: ids.oid, tid: ids.tid, record: data === null ? null : { data, refs: { oids: ids.oids, blobs } } });
          }
          for (const { key, size } of created) {
            this.#revisions.set(key, { path: file.path, at, size });
            at += size;
          }
          if (tid >= start) yield { tid, status: frame.status, meta: frame.meta, records };
        }
      } finally {
        await handle.close();
      }
    }
  }

  async #open(blobId: BlobId, revision: Tid): Promise<RevisionReader> {
    const found = this.#revisions.get(`${blobId}:${revision}`);
    if (found === undefined) throw new POSKeyError(`backup holds no blob ${toHex(blobId)} revision ${toHex(revision)} (read the transactions first)`, blobId);
    const handle = await open(found.path, 'r');
    return {
      size: found.size,
      read: async (target, position) => {
        const length = Math.max(0, Math.min(target.length, found.size - position));
        if (length === 0) return 0;
        const { bytesRead } = await handle.read(target, 0, length, found.at + position);
        return bytesRead;
      },
      close: async () => handle.close().catch(() => undefined),
    };
  }
}

/** Fsyncs a directory (a rename in it becomes durable). */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readExactly(handle: FileHandle, position: number, length: number, path: string): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new CorruptionError(`backup file is truncated (needed ${length} bytes at offset ${position})`, path);
    done += bytesRead;
  }
  return buffer;
}

function parseJson<T>(bytes: Buffer, path: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (error) {
    throw new CorruptionError(`backup frame is not valid JSON: ${String(error)}`, path);
  }
}
