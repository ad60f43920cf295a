/**
 * The file format: a header line, then one line per committed transaction. Every line is
 * `<crc32 as 8 hex digits> <JSON>\n`, so a torn or damaged line is recognised on open.
 */
import { crc32 } from 'node:zlib';
import { NO_REFS, type BlobRef, type Oid, type RecordInput, type Tid, type TransactionMeta } from '@handlerton/framework';

/** The first line of every file. */
export interface Header {
  readonly format: 'handlerton-jsonl';
  readonly version: 1;
  readonly databaseId: string;
}

/** One object revision of a transaction: `record` null is a delete marker. */
export interface LoggedRecord {
  readonly oid: Oid;
  readonly record: RecordInput | null;
}

/** One committed transaction as stored. */
export interface LoggedTransaction {
  readonly tid: Tid;
  /** ' ' as committed, 'p' once pack removed some of its records. */
  readonly status: ' ' | 'p';
  readonly meta: TransactionMeta;
  readonly records: readonly LoggedRecord[];
}

type RecordJson = [oid: string, data: string | null, oids: string[], blobs: [string, string, string][]];
interface TransactionJson {
  t: string;
  s: ' ' | 'p';
  u: string;
  d: string;
  e: Record<string, unknown>;
  r: RecordJson[];
}

const hex = (value: bigint): string => value.toString(16);
const big = (text: string): bigint => BigInt(`0x${text}`);

/** One line (with its newline) holding `value` and its checksum. */
export function encodeLine(value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  return Buffer.concat([Buffer.from(`${crc32(json).toString(16).padStart(8, '0')} `), json, Buffer.from('\n')]);
}

/** The JSON value of a line (without its newline); undefined when the checksum or the JSON is wrong. */
export function decodeLine(line: Buffer): unknown {
  if (line.length < 10 || line[8] !== 0x20) return undefined;
  const json = line.subarray(9);
  if (crc32(json) !== Number.parseInt(line.subarray(0, 8).toString('latin1'), 16)) return undefined;
  try {
    return JSON.parse(json.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The stored form of a transaction. */
export function transactionToJson(txn: LoggedTransaction): TransactionJson {
  return {
    t: hex(txn.tid),
    s: txn.status,
    u: txn.meta.user,
    d: txn.meta.description,
    e: txn.meta.extension,
    r: txn.records.map(({ oid, record }): RecordJson => [
      hex(oid),
      record === null ? null : Buffer.from(record.data.buffer, record.data.byteOffset, record.data.length).toString('base64'),
      (record?.refs.oids ?? []).map(hex),
      (record?.refs.blobs ?? []).map((b): [string, string, string] => [b.handlerton, hex(b.blobId), hex(b.revision)]),
    ]),
  };
}

/** A transaction read back; undefined when the JSON does not have the transaction's shape. */
export function transactionFromJson(value: unknown): LoggedTransaction | undefined {
  const json = value as Partial<TransactionJson> | null;
  if (typeof json !== 'object' || json === null || typeof json.t !== 'string' || !Array.isArray(json.r)) return undefined;
  const meta = Object.freeze({ user: String(json.u ?? ''), description: String(json.d ?? ''), extension: Object.freeze(json.e ?? {}) });
  const records = json.r.map(([oid, data, oids, blobs]): LoggedRecord => {
    if (data === null) return { oid: big(oid), record: null };
    const refs =
      oids.length === 0 && blobs.length === 0
        ? NO_REFS
        : Object.freeze({
            oids: Object.freeze(oids.map(big)),
            blobs: Object.freeze(blobs.map(([handlerton, id, rev]): BlobRef => Object.freeze({ handlerton, blobId: big(id), revision: big(rev) }))),
          });
    return { oid: big(oid), record: { data: new Uint8Array(Buffer.from(data, 'base64')), refs } };
  });
  return { tid: big(json.t), status: json.s === 'p' ? 'p' : ' ', meta, records };
}

/** A header read back; undefined when the value is not one. */
export function headerFromJson(value: unknown): Header | undefined {
  const json = value as Partial<Header> | null;
  if (typeof json !== 'object' || json === null || json.format !== 'handlerton-jsonl' || typeof json.databaseId !== 'string') return undefined;
  return json as Header;
}
