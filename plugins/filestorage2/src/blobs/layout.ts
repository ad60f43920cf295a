/**
 * Where things live in a FileStorage2 blob directory (see FORMAT.md, "Blob layout"):
 *
 *   <dir>/BLOBS-FORMAT            format marker: magic, version, chunk size (JSON, published atomically)
 *   <dir>/LOCK                    owner process id
 *   <dir>/refs.log                refcount journal (journal.ts)
 *   <dir>/tmp/<txn>.<blob>        a draft: a directory of chunk files
 *   <dir>/blobs/<b7>/<b6>/<blob>/<tid>/<index>   one committed revision: a directory of chunk files
 */
import { join } from 'node:path';
import type { BlobId, Tid } from '@handlerton/framework';
import { toHex } from '@handlerton/framework';

/** Default bytes per chunk file: the unit of sharing between revisions and of copy-on-write. */
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
/** The format marker's file name. */
export const FORMAT_FILE = 'BLOBS-FORMAT';
/** Magic string inside the format marker. */
export const FORMAT_MAGIC = 'handlerton-filestorage2-blobs';
/** Current layout version: 2 = chunk files end with block checksums, zero chunks may be holes (1 had neither). */
export const FORMAT_VERSION = 2;
/** The refcount journal's file name. */
export const JOURNAL_FILE = 'refs.log';
/** The lock file's name. */
export const LOCK_FILE = 'LOCK';

/** Computes every path of one blob directory. */
export class BlobLayout {
  /** The blob directory itself. */
  readonly root: string;
  /** Where drafts live (same file system as the revisions, so publishing is a rename). */
  readonly tmp: string;
  /** Root of the committed revisions. */
  readonly blobs: string;
  /** The refcount journal. */
  readonly journal: string;
  /** The format marker. */
  readonly format: string;
  /** The lock file. */
  readonly lock: string;

  constructor(root: string) {
    this.root = root;
    this.tmp = join(root, 'tmp');
    this.blobs = join(root, 'blobs');
    this.journal = join(root, JOURNAL_FILE);
    this.format = join(root, FORMAT_FILE);
    this.lock = join(root, LOCK_FILE);
  }

  /** The two fan-out levels above a blob's directory: its lowest byte, then the next one. */
  fanOut(blobId: BlobId): [string, string] {
    const hex = toHex(blobId);
    return [join(this.blobs, hex.slice(14, 16)), join(this.blobs, hex.slice(14, 16), hex.slice(12, 14))];
  }

  /** The directory holding every revision of a blob. */
  blobDir(blobId: BlobId): string {
    return join(this.fanOut(blobId)[1], toHex(blobId));
  }

  /** The directory of one committed revision. */
  revisionDir(blobId: BlobId, revision: Tid): string {
    return join(this.blobDir(blobId), toHex(revision));
  }

  /** The directory of the draft of `blobId` in local transaction `txnSeq`. */
  draftDir(txnSeq: bigint, blobId: BlobId): string {
    return join(this.tmp, draftName(txnSeq, blobId));
  }
}

/** The file name of chunk `index` (8 hex digits, so names sort by index). */
export function chunkName(index: number): string {
  return index.toString(16).padStart(8, '0');
}

/** Name of a draft directory inside tmp/. */
export function draftName(txnSeq: bigint, blobId: BlobId): string {
  return `${toHex(txnSeq)}.${toHex(blobId)}`;
}

/** Parses a draft directory name; null for anything else. */
export function parseDraftName(name: string): { txnSeq: bigint; blobId: BlobId } | null {
  const match = /^([0-9a-f]{16})\.([0-9a-f]{16})$/.exec(name);
  if (match === null) return null;
  return { txnSeq: BigInt(`0x${match[1]}`), blobId: BigInt(`0x${match[2]}`) };
}

/** How many chunk files hold `size` bytes. */
export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}
