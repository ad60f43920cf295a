/**
 * The deterministic workload shared by the writer child and the checking parent: what transaction
 * `seq` writes, the bytes of every record and blob, and the root/manifest records that let both
 * sides find every object (the root at oid 0 names the manifest of the last committed
 * transaction; each manifest names the objects its transaction wrote and the previous manifest).
 */
import { InvalidArgumentError } from '@handlerton/framework';
import { fillStream, mix32, streamChunks } from './prng.js';

/** Number of "hot" records created by transaction 1 and overwritten round-robin afterwards. */
export const HOT_RECORDS = 4;
/** Label of hot record slot `i` is LABEL_HOT + i. */
export const LABEL_HOT = 100;
/** Label of the overwrite of the previous transaction's first record. */
export const LABEL_REWRITE_PREVIOUS = 200;
/** Label of the new blob a transaction creates (when blobs are on). */
export const LABEL_NEW_BLOB = 300;
/** Label of the hot blob (created by transaction 1, rewritten every third transaction). */
export const LABEL_HOT_BLOB = 301;

/** What transaction `seq` writes, as labels (the oids are the engine's). */
export interface TransactionPlan {
  readonly seq: number;
  /** Labels of records created by this transaction (0..k-1, plus the hot records in seq 1). */
  readonly created: readonly number[];
  /** Hot slot overwritten (seq > 1), or undefined. */
  readonly hotSlot: number | undefined;
  /** True when the first record of transaction seq-1 is overwritten. */
  readonly rewritePrevious: boolean;
  /** True when a new blob is created. */
  readonly newBlob: boolean;
  /** True when the hot blob is created (seq 1) or rewritten. */
  readonly hotBlob: boolean;
}

/** The plan of transaction `seq` (1-based). */
export function planFor(seq: number, blobs: boolean): TransactionPlan {
  const created: number[] = [];
  const count = 1 + (seq % 3);
  for (let label = 0; label < count; label++) created.push(label);
  if (seq === 1) for (let slot = 0; slot < HOT_RECORDS; slot++) created.push(LABEL_HOT + slot);
  return {
    seq,
    created,
    hotSlot: seq > 1 ? seq % HOT_RECORDS : undefined,
    rewritePrevious: seq > 1 && seq % 2 === 0,
    newBlob: blobs,
    hotBlob: blobs && (seq === 1 || seq % 3 === 0),
  };
}

/** Labels of the record writes a manifest must list, sorted (created + overwrites). */
export function expectedRecordLabels(plan: TransactionPlan): number[] {
  const labels = [...plan.created];
  if (plan.hotSlot !== undefined) labels.push(LABEL_HOT + plan.hotSlot);
  if (plan.rewritePrevious) labels.push(LABEL_REWRITE_PREVIOUS);
  return labels.sort((a, b) => a - b);
}

/** Labels of the blob writes a manifest must list, sorted. */
export function expectedBlobLabels(plan: TransactionPlan): number[] {
  const labels: number[] = [];
  if (plan.newBlob) labels.push(LABEL_NEW_BLOB);
  if (plan.hotBlob) labels.push(LABEL_HOT_BLOB);
  return labels;
}

/** The bytes record write (seq, label) stores: 16..615 bytes, a readable prefix then a stream. */
export function recordContent(seq: number, label: number): Uint8Array {
  const length = 16 + (mix32(seq, label) % 600);
  const out = new Uint8Array(length);
  fillStream(mix32(seq, label + 0x10000), 0, out);
  const prefix = new TextEncoder().encode(`r${seq}.${label}:`);
  out.set(prefix.subarray(0, Math.min(prefix.length, length)));
  return out;
}

/** The size of blob write (seq, label): 64 KiB .. 448 KiB. */
export function blobSize(seq: number, label: number): number {
  return 64 * 1024 + (mix32(seq, label + 0x20000) % (384 * 1024));
}

/** Chunks of blob write (seq, label), `chunkSize` bytes each (a multiple of 4); bounded memory. */
export function* blobChunks(seq: number, label: number, chunkSize = 64 * 1024): Generator<Uint8Array> {
  const size = blobSize(seq, label);
  const key = mix32(seq, label + 0x30000);
  yield* streamChunks(key, size, chunkSize);
}

/** The root record (oid 0): the last committed transaction and the fixed objects. */
export interface RootState {
  readonly seq: number;
  readonly manifest: bigint;
  readonly hot: readonly bigint[];
  readonly hotBlob: bigint | undefined;
}

/** One manifest record: the objects one transaction wrote. */
export interface ManifestState {
  readonly seq: number;
  readonly previous: bigint | undefined;
  /** [oid, label] of every record written. */
  readonly records: ReadonlyArray<readonly [bigint, number]>;
  /** [oid, label] of every blob written. */
  readonly blobs: ReadonlyArray<readonly [bigint, number]>;
}

const ROOT_MAGIC = 'handlerton-crash-root/1';
const MANIFEST_MAGIC = 'handlerton-crash-manifest/1';

/** Encodes the root record. */
export function encodeRoot(root: RootState): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      magic: ROOT_MAGIC,
      seq: root.seq,
      manifest: root.manifest.toString(),
      hot: root.hot.map(String),
      hotBlob: root.hotBlob?.toString() ?? null,
    }),
  );
}

/** Decodes the root record; InvalidArgumentError when it is not one. */
export function decodeRoot(bytes: Uint8Array): RootState {
  const value = parseJson(bytes, 'root');
  if (value['magic'] !== ROOT_MAGIC || typeof value['seq'] !== 'number' || !Array.isArray(value['hot'])) {
    throw new InvalidArgumentError('the root record is not a crash-harness root');
  }
  const hotBlob = value['hotBlob'];
  return {
    seq: value['seq'],
    manifest: toOid(value['manifest'], 'root.manifest'),
    hot: (value['hot'] as unknown[]).map((oid) => toOid(oid, 'root.hot')),
    hotBlob: hotBlob === null ? undefined : toOid(hotBlob, 'root.hotBlob'),
  };
}

/** Encodes a manifest record. */
export function encodeManifest(manifest: ManifestState): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      magic: MANIFEST_MAGIC,
      seq: manifest.seq,
      previous: manifest.previous?.toString() ?? null,
      records: manifest.records.map(([oid, label]) => [oid.toString(), label]),
      blobs: manifest.blobs.map(([oid, label]) => [oid.toString(), label]),
    }),
  );
}

/** Decodes a manifest record; InvalidArgumentError when it is not one. */
export function decodeManifest(bytes: Uint8Array): ManifestState {
  const value = parseJson(bytes, 'manifest');
  if (value['magic'] !== MANIFEST_MAGIC || typeof value['seq'] !== 'number') {
    throw new InvalidArgumentError('the record is not a crash-harness manifest');
  }
  const previous = value['previous'];
  return {
    seq: value['seq'],
    previous: previous === null ? undefined : toOid(previous, 'manifest.previous'),
    records: pairs(value['records']),
    blobs: pairs(value['blobs']),
  };
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new InvalidArgumentError(`the ${what} record is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError(`the ${what} record is not an object`);
  return value as Record<string, unknown>;
}

function pairs(value: unknown): Array<readonly [bigint, number]> {
  if (!Array.isArray(value)) throw new InvalidArgumentError('manifest entries must be an array');
  return value.map((entry: unknown) => {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[1] !== 'number') {
      throw new InvalidArgumentError('a manifest entry must be [oid, label]');
    }
    return [toOid(entry[0], 'manifest entry'), entry[1]] as const;
  });
}

function toOid(value: unknown, what: string): bigint {
  if (typeof value !== 'string' || !/^[0-9]+$/.test(value)) throw new InvalidArgumentError(`${what} must be a decimal oid string`);
  return BigInt(value);
}
