/** Conversions between the Storage contract's record shapes and FileStorage2's stored bytes. */
import {
  CorruptionError,
  decodeRefs,
  encodeRefs,
  InvalidArgumentError,
  toHex,
  type IteratedRecord,
  type IteratedTransaction,
  type LoadedRecord,
  type RecordInput,
  type TransactionMeta,
} from '@handlerton/framework';
import { MAX_META_FIELD, MAX_PAYLOAD, STATUS_PACKED } from './constants.js';
import type { MetaBytes, ParsedRecord, ParsedTxn } from './txn-format.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The encoded form of "no references" (a shared constant). */
export const NO_REFS_BYTES = new Uint8Array(8);

/** CorruptionError unless `rec` is the revision an index entry promised. */
export function checkRecord(rec: ParsedRecord, oid: bigint, tid: bigint): void {
  if (rec.oid !== oid || rec.tid !== tid) throw new CorruptionError(`index points at the wrong record for oid ${toHex(oid)}`, undefined, rec.offset);
}

/** The encoded refs of a record (a shared constant for the common "no references"). */
export function refsBytes(record: RecordInput): Uint8Array {
  const { oids, blobs } = record.refs;
  return oids.length === 0 && blobs.length === 0 ? NO_REFS_BYTES : encodeRefs(record.refs);
}

/** InvalidArgumentError unless `record` is a well-formed RecordInput. */
export function checkRecordInput(record: RecordInput): void {
  if (record === null || typeof record !== 'object' || !(record.data instanceof Uint8Array)) {
    throw new InvalidArgumentError('record.data must be a Uint8Array');
  }
  if (record.data.length > MAX_PAYLOAD) throw new InvalidArgumentError(`record data too large (${record.data.length} bytes)`);
  if (!record.refs || !Array.isArray(record.refs.oids) || !Array.isArray(record.refs.blobs)) {
    throw new InvalidArgumentError('record.refs must have oids and blobs arrays');
  }
}

/** A LoadedRecord owning its bytes, from a parsed record. */
export function toLoaded(rec: ParsedRecord): LoadedRecord {
  return { oid: rec.oid, tid: rec.tid, data: new Uint8Array(rec.data), refs: decodeRefs(rec.refs) };
}

/** An IteratedTransaction owning its bytes, from a parsed transaction. */
export function toIterated(txn: ParsedTxn): IteratedTransaction {
  const records: IteratedRecord[] = txn.records.map((r) => ({
    oid: r.oid,
    tid: r.tid,
    record: r.deleted ? null : { data: new Uint8Array(r.data), refs: decodeRefs(r.refs) },
  }));
  return { tid: txn.tid, status: txn.status === STATUS_PACKED ? 'p' : ' ', meta: decodeMeta(txn.meta), records };
}

/** Transaction metadata as stored bytes; InvalidArgumentError when a field is too long or not JSON. */
export function encodeMeta(meta: TransactionMeta): MetaBytes {
  if (!meta || typeof meta !== 'object') throw new InvalidArgumentError('transaction meta is missing');
  const user = Buffer.from(encoder.encode(String(meta.user ?? '')));
  const description = Buffer.from(encoder.encode(String(meta.description ?? '')));
  if (user.length > MAX_META_FIELD) throw new InvalidArgumentError(`transaction user is ${user.length} bytes (max ${MAX_META_FIELD})`);
  if (description.length > MAX_META_FIELD) {
    throw new InvalidArgumentError(`transaction description is ${description.length} bytes (max ${MAX_META_FIELD})`);
  }
  let json: string;
  try {
    json = JSON.stringify(meta.extension ?? {});
  } catch (e) {
    throw new InvalidArgumentError(`transaction extension is not JSON-serialisable: ${(e as Error).message}`);
  }
  const extension = Buffer.from(encoder.encode(json));
  if (extension.length > MAX_PAYLOAD) throw new InvalidArgumentError('transaction extension too large');
  return { user, description, extension };
}

/** Transaction metadata from stored bytes. */
export function decodeMeta(meta: MetaBytes): TransactionMeta {
  let extension: Record<string, unknown> = {};
  if (meta.extension.length > 0) {
    const parsed: unknown = JSON.parse(decoder.decode(meta.extension));
    if (parsed && typeof parsed === 'object') extension = parsed as Record<string, unknown>;
  }
  return { user: decoder.decode(meta.user), description: decoder.decode(meta.description), extension };
}
