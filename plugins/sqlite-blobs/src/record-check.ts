/**
 * Record integrity: every object_revision row written since migration 0002 carries the CRC-32 of
 * its oid, tid, delete flag, data and refs (column `crc`), and every read of a row's data checks
 * it. SQLite has no page checksums: without this, damage inside a row's bytes read back as wrong
 * data. Rows written before 0002 were checksummed by its backfill.
 */
import { crc32 } from 'node:zlib';
import { CorruptionError, type Oid, type Tid } from '@handlerton/framework';

/** The SQL function (registered on every records-file connection) computing a row checksum. */
export const RECORD_CHECKSUM_FUNCTION = 'handlerton_record_crc32';

/** The stored checksum of a revision row (field lengths included, so bytes cannot move between fields). */
export function recordChecksum(oid: bigint, tid: bigint, deleted: bigint | number, data: Uint8Array | null, refs: Uint8Array | null): number {
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
  if (row.crc === null) return;
  if (Number(row.crc) !== recordChecksum(oid, row.tid, row.deleted, row.data, row.refs)) {
    throw new CorruptionError(`oid ${oid} revision ${row.tid}: the stored record fails its checksum`, file);
  }
}
