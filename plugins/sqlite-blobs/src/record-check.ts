/**
 * Record integrity: every revision row written since migration 0002 carries the CRC-32 of
 * its oid, tid, delete flag, data and refs (column `crc`), and every read of a row's data checks
 * it. Since 0003 a revision's chain link (prev_tid) and each current pointer carry one too (`link`,
 * object_current `crc`), checked by every walk and lookup that reads them. SQLite has no page checksums: without this, damage inside a row's bytes read back as wrong
 * data. Rows written before 0002 were checksummed by its backfill. Transaction rows carry one too
 * (over everything but the status a pack rewrites), checked for the newest one at open (it gives
 * `lastTransaction()`) and for every one the iterator reads.
 */
import { crc32 } from 'node:zlib';
import { CorruptionError, type Oid, type Tid } from '@handlerton/framework';

/** The SQL function (registered on every records-file connection) computing a row checksum. */
export const RECORD_CHECKSUM_FUNCTION = 'handlerton_record_crc32';
/** The SQL function computing a transaction row's checksum. */
export const TXN_CHECKSUM_FUNCTION = 'handlerton_txn_crc32';

/** The stored checksum of a transaction row: tid, user, description, extension and oid list (not the status). */
export function txnChecksum(tid: bigint, user: string, description: string, extension: string, oids: Uint8Array): number {
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(BigInt.asUintN(64, tid), 0);
  let crc = crc32(head);
  for (const text of [user, description, extension]) {
    const bytes = Buffer.from(text, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length, 0);
    crc = crc32(length, crc);
    if (bytes.length > 0) crc = crc32(bytes, crc);
  }
  // zlib's crc32 of an empty buffer read from SQLite does not return the running value: skip empty fields
  return oids.length > 0 ? crc32(oids, crc) : crc;
}

/** A transaction row as read. */
export interface CheckedTxn {
  readonly tid: Tid;
  readonly user: string;
  readonly description: string;
  readonly extension: string;
  readonly oids: Uint8Array;
  readonly crc: bigint | null;
}

/** Throws CorruptionError naming `file` when transaction row `txn` fails its checksum. */
export function checkTxnRow(file: string, txn: CheckedTxn): void {
  if (txn.crc === null || Number(txn.crc) !== txnChecksum(txn.tid, txn.user, txn.description, txn.extension, txn.oids)) {
    throw new CorruptionError(`transaction ${txn.tid}: the stored transaction row fails its checksum`, file);
  }
}

/** The stored checksum of a revision row (field lengths included, so bytes cannot move between fields). */
export function recordChecksum(oid: bigint, tid: bigint, deleted: bigint | number, storedData: Uint8Array | null, storedRefs: Uint8Array | null): number {
  // SQLite hands a zero-length blob back as NULL: empty and absent are the same bytes here.
  const data = storedData === null || storedData.length === 0 ? null : storedData;
  const refs = storedRefs === null || storedRefs.length === 0 ? null : storedRefs;
  const head = Buffer.alloc(25);
  head.writeBigUInt64BE(BigInt.asUintN(64, oid), 0);
  head.writeBigUInt64BE(BigInt.asUintN(64, tid), 8);
  head.writeUInt8(Number(deleted) === 0 ? 0 : 1, 16);
  head.writeUInt32BE(data === null ? 0xffffffff : data.length, 17);
  head.writeUInt32BE(refs === null ? 0xffffffff : refs.length, 21);
  let crc = crc32(head);
  if (data !== null) crc = crc32(data, crc);
  if (refs !== null) crc = crc32(refs, crc);
  return crc;
}

/** A revision row as read for its data. */
export interface CheckedRow {
  readonly tid: Tid;
  readonly deleted: bigint;
  readonly data: Uint8Array | null;
  readonly refs: Uint8Array | null;
  readonly crc: bigint | null;
}

/** Throws CorruptionError naming `file` when `row` of `oid` fails its checksum. */
export function checkRecordRow(file: string, oid: Oid, row: CheckedRow): void {
  // Migration 0002 completes before the file is used: a row without its checksum is damage too.
  if (row.crc === null || Number(row.crc) !== recordChecksum(oid, row.tid, row.deleted, row.data, row.refs)) {
    throw new CorruptionError(`oid ${oid} revision ${row.tid}: the stored record fails its checksum`, file);
  }
}

/** Reused input buffers of the link and pointer checksums (written whole on every call: no allocation per record). */
const LINK_SCRATCH = Buffer.alloc(26);
const POINTER_SCRATCH = Buffer.alloc(17);

/** The SQL function computing a revision's link checksum (migration 0003, pack). */
export const LINK_CHECKSUM_FUNCTION = 'handlerton_link_crc32';
/** The SQL function computing a current pointer's checksum (migration 0003). */
export const POINTER_CHECKSUM_FUNCTION = 'handlerton_pointer_crc32';

/**
 * The stored checksum of a revision's chain link (column `link`, since 0003): oid, tid, prev_tid and
 * delete flag. The chain walks of loadBefore, history and pack read these columns without the data,
 * so the record checksum cannot cover them there: a damaged prev_tid would end or skip the chain.
 */
export function linkChecksum(oid: bigint, tid: bigint, prevTid: bigint | null, deleted: bigint | number): number {
  const head = LINK_SCRATCH; // every byte is written below (synchronous: no other call interleaves)
  head.writeBigUInt64BE(BigInt.asUintN(64, oid), 0);
  head.writeBigUInt64BE(BigInt.asUintN(64, tid), 8);
  head.writeUInt8(prevTid === null ? 0 : 1, 16);
  head.writeBigUInt64BE(prevTid === null ? 0n : BigInt.asUintN(64, prevTid), 17);
  head.writeUInt8(Number(deleted) === 0 ? 0 : 1, 25);
  return crc32(head);
}

/** A revision's chain link as read. */
export interface CheckedLink {
  readonly prev_tid: bigint | null;
  readonly deleted: bigint;
  readonly link: bigint | null;
}

/** Throws CorruptionError naming `file` when the link of revision `tid` of `oid` fails its checksum. */
export function checkLink(file: string, oid: Oid, tid: Tid, row: CheckedLink): void {
  const prev = row.prev_tid;
  if (row.link === null || (prev !== null && typeof prev !== 'bigint') || Number(row.link) !== linkChecksum(oid, tid, prev, row.deleted)) {
    throw new CorruptionError(`oid ${oid} revision ${tid}: its link to the revision it replaced fails its checksum`, file);
  }
}

/** The stored checksum of a current pointer (column `crc` of object_current, since 0003): oid, tid and delete flag. */
export function pointerChecksum(oid: bigint, tid: bigint, deleted: bigint | number): number {
  const head = POINTER_SCRATCH; // every byte is written below
  head.writeBigUInt64BE(BigInt.asUintN(64, oid), 0);
  head.writeBigUInt64BE(BigInt.asUintN(64, tid), 8);
  head.writeUInt8(Number(deleted) === 0 ? 0 : 1, 16);
  return crc32(head);
}

/** A current pointer as read. */
export interface CheckedPointer {
  readonly tid: bigint;
  readonly deleted: bigint;
  readonly crc: bigint | null;
}

/** Throws CorruptionError naming `file` when the current pointer of `oid` fails its checksum. */
export function checkPointer(file: string, oid: Oid, row: CheckedPointer): void {
  if (row.crc === null || typeof row.tid !== 'bigint' || Number(row.crc) !== pointerChecksum(oid, row.tid, row.deleted)) {
    throw new CorruptionError(`oid ${oid}: its current pointer fails its checksum`, file);
  }
}
