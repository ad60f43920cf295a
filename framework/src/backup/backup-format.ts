/**
 * The backup file format (one file per backup run, covering a tid range):
 *
 *   magic "HLTBKP1\n" | u32 length + JSON header { version, databaseId, from, to, created }
 *   per transaction: "T" | u32 length + JSON frame { tid, status, meta, records: [{ oid, tid, deleted,
 *     size, oids, blobs: [{ blobId, revision, size }] }] } | each record's data bytes | the bytes of
 *     each blob revision the transaction created (size >= 0), in record order
 *   trailer: "E" | u32 transaction count | 32-byte SHA-256 of every byte before the trailer
 *
 * Ids are hex strings in the JSON. A blob reference whose `size` is -1 names a revision an earlier
 * transaction created (its bytes are there).
 */
import { CorruptionError } from '../contracts/errors.js';
import { toHex, type BlobId, type Oid, type Tid } from '../contracts/ids.js';
import type { TransactionMeta } from '../contracts/records.js';

export const BACKUP_MAGIC = Buffer.from('HLTBKP1\n', 'latin1');
export const FRAME_TXN = 0x54; // "T"
export const FRAME_END = 0x45; // "E"
export const BACKUP_VERSION = 1;
/** Backup file names: sequence, first and last tid of the range. */
export const BACKUP_FILE = /^(\d{6})-([0-9a-f]{16})-([0-9a-f]{16})\.hbackup$/;

/** The header of one backup file. */
export interface BackupHeader {
  readonly version: number;
  readonly databaseId: string;
  /** First tid the file could hold (the previous file's last + 1, or 0). */
  readonly from: string;
  /** The database's last transaction when the backup ran: the file holds every transaction up to it. */
  readonly to: string;
  readonly created: string;
}

/** A blob revision a record references, as a frame lists it. */
export interface FrameBlob {
  readonly blobId: string;
  readonly revision: string;
  /** Bytes stored in this transaction's frame; -1 when an earlier transaction created the revision. */
  readonly size: number;
}

/** A record as a frame lists it (its data bytes follow the frame JSON). */
export interface FrameRecord {
  readonly oid: string;
  readonly tid: string;
  readonly deleted: boolean;
  readonly size: number;
  readonly oids: readonly string[];
  readonly blobs: readonly FrameBlob[];
}

/** One transaction's JSON frame. */
export interface TxnFrame {
  readonly tid: string;
  readonly status: ' ' | 'p';
  readonly meta: TransactionMeta;
  readonly records: readonly FrameRecord[];
}

/** The file name of backup number `seq` covering `from`..`to`. */
export function backupFileName(seq: number, from: Tid, to: Tid): string {
  return `${String(seq).padStart(6, '0')}-${toHex(from)}-${toHex(to)}.hbackup`;
}

/** A length-prefixed JSON block. */
export function jsonBlock(kind: number | null, value: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  const head = Buffer.alloc(kind === null ? 4 : 5);
  if (kind === null) head.writeUInt32BE(body.length, 0);
  else {
    head[0] = kind;
    head.writeUInt32BE(body.length, 1);
  }
  return Buffer.concat([head, body]);
}

/** Parses a hex id from a backup file; CorruptionError naming `file` when it is not one. */
export function hexId(text: unknown, file: string, what: string): bigint {
  if (typeof text !== 'string' || !/^[0-9a-f]{16}$/.test(text)) throw new CorruptionError(`backup ${what} "${String(text)}" is not a hex id`, file);
  return BigInt(`0x${text}`);
}

/** The ids a record frame names, parsed. */
export function frameIds(record: FrameRecord, file: string): { oid: Oid; tid: Tid; oids: Oid[]; blobs: { blobId: BlobId; revision: Tid; size: number }[] } {
  return {
    oid: hexId(record.oid, file, 'oid'),
    tid: hexId(record.tid, file, 'tid'),
    oids: record.oids.map((o) => hexId(o, file, 'oid')),
    blobs: record.blobs.map((b) => ({ blobId: hexId(b.blobId, file, 'blob id'), revision: hexId(b.revision, file, 'revision'), size: b.size })),
  };
}
