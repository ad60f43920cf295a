/** The SQL functions the engine's migrations and statements call (checksums computed in JavaScript). */
import type BetterSqlite3 from 'better-sqlite3';
import { chunkChecksum } from './checksum.js';
import type { FileRole } from './connection.js';
import { CHECKSUM_FUNCTION } from './migrations.js';
import {
  LINK_CHECKSUM_FUNCTION,
  linkChecksum,
  POINTER_CHECKSUM_FUNCTION,
  pointerChecksum,
  RECORD_CHECKSUM_FUNCTION,
  recordChecksum,
  TXN_CHECKSUM_FUNCTION,
  txnChecksum,
} from './record-check.js';

/** Registers the checksum functions the migrations and statements of a `role` file call. */
export function registerFunctions(db: BetterSqlite3.Database, role: FileRole): void {
  // The 0004 migration checksums the chunks of an older file through this function.
  if (role === 'blobs') db.function(CHECKSUM_FUNCTION, { deterministic: true }, (data: unknown) => chunkChecksum(data as Uint8Array));
  // The 0002 migration checksums the revision rows of an older file through this function.
  if (role === 'records') {
    db.function(RECORD_CHECKSUM_FUNCTION, { deterministic: true, safeIntegers: true }, (oid: unknown, tid: unknown, deleted: unknown, data: unknown, refs: unknown) =>
      recordChecksum(oid as bigint, tid as bigint, deleted as bigint, data as Uint8Array | null, refs as Uint8Array | null),
    );
    db.function(TXN_CHECKSUM_FUNCTION, { deterministic: true, safeIntegers: true }, (tid: unknown, user: unknown, description: unknown, extension: unknown, oids: unknown) =>
      txnChecksum(tid as bigint, String(user), String(description), String(extension), oids as Uint8Array),
    );
    // 0003 (and pack, ending a chain) checksum links and current pointers through these.
    db.function(LINK_CHECKSUM_FUNCTION, { deterministic: true, safeIntegers: true }, (oid: unknown, tid: unknown, prevTid: unknown, deleted: unknown) =>
      linkChecksum(oid as bigint, tid as bigint, prevTid as bigint | null, deleted as bigint),
    );
    db.function(POINTER_CHECKSUM_FUNCTION, { deterministic: true, safeIntegers: true }, (oid: unknown, tid: unknown, deleted: unknown) =>
      pointerChecksum(oid as bigint, tid as bigint, deleted as bigint),
    );
  }
}
