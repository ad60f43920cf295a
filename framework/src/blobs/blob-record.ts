/**
 * Blob objects are ordinary records whose data is an 8-byte marker and whose refs name exactly
 * one blob (the ZODB model: a blob is a persistent object; other records reference its oid).
 * Revision 0 in the ref means "no committed data yet" (or, for handlertons that are not
 * data-transactional, "read the latest revision").
 */
import { InvalidArgumentError } from '../contracts/errors.js';
import type { BlobId, Oid, Tid } from '../contracts/ids.js';
import { toHex } from '../contracts/ids.js';
import type { BlobRef, LoadedRecord, RecordInput } from '../contracts/records.js';

/** The data of every blob object record: "HLBLOB" + format version 0x0001. */
export const BLOB_RECORD_MARKER = Uint8Array.from([0x48, 0x4c, 0x42, 0x4c, 0x4f, 0x42, 0x00, 0x01]);

/** Builds the record of a blob object pointing at `revision` of `blobId`. */
export function blobRecord(handlerton: string, blobId: BlobId, revision: Tid): RecordInput {
  return {
    data: BLOB_RECORD_MARKER,
    refs: { oids: [], blobs: [{ handlerton, blobId, revision }] },
  };
}

/** True when a record is a blob object. */
export function isBlobRecord(record: RecordInput): boolean {
  const { data, refs } = record;
  return (
    refs.blobs.length === 1 &&
    data.length === BLOB_RECORD_MARKER.length &&
    data.every((byte, i) => byte === BLOB_RECORD_MARKER[i])
  );
}

/** The blob ref of a blob object record; InvalidArgumentError when `record` is not a blob object. */
export function blobRefOf(record: LoadedRecord | (RecordInput & { oid: Oid })): BlobRef {
  if (!isBlobRecord(record)) throw new InvalidArgumentError(`oid ${toHex(record.oid)} is not a blob object`);
  return record.refs.blobs[0]!;
}
