/** Argument checks shared by the framework's wrappers; each throws InvalidArgumentError. */
import { InvalidArgumentError } from '../contracts/errors.js';
import { assertU64 } from '../contracts/ids.js';
import type { WriteOptions } from '../contracts/database.js';
import type { BlobRef, RecordInput, RecordRefs, TransactionMeta } from '../contracts/records.js';

/** Checks a RecordInput: bytes plus well-formed refs. */
export function assertRecordInput(record: unknown, what = 'record'): asserts record is RecordInput {
  if (typeof record !== 'object' || record === null) throw new InvalidArgumentError(`${what} must be an object with data and refs`);
  const { data, refs } = record as { data?: unknown; refs?: unknown };
  if (!(data instanceof Uint8Array)) throw new InvalidArgumentError(`${what}.data must be a Uint8Array`);
  assertRefs(refs, `${what}.refs`);
}

/** Checks a RecordRefs value. */
export function assertRefs(refs: unknown, what = 'refs'): asserts refs is RecordRefs {
  if (typeof refs !== 'object' || refs === null) throw new InvalidArgumentError(`${what} must be { oids, blobs }`);
  const { oids, blobs } = refs as { oids?: unknown; blobs?: unknown };
  if (!Array.isArray(oids)) throw new InvalidArgumentError(`${what}.oids must be an array of oids`);
  oids.forEach((oid, i) => assertU64(oid, `${what}.oids[${i}]`));
  if (!Array.isArray(blobs)) throw new InvalidArgumentError(`${what}.blobs must be an array of blob refs`);
  blobs.forEach((blob, i) => assertBlobRef(blob, `${what}.blobs[${i}]`));
}

/** Checks a BlobRef value. */
export function assertBlobRef(ref: unknown, what = 'blob ref'): asserts ref is BlobRef {
  if (typeof ref !== 'object' || ref === null) throw new InvalidArgumentError(`${what} must be { handlerton, blobId, revision }`);
  const { handlerton, blobId, revision } = ref as { handlerton?: unknown; blobId?: unknown; revision?: unknown };
  if (typeof handlerton !== 'string' || handlerton.length === 0) throw new InvalidArgumentError(`${what}.handlerton must be a non-empty string`);
  assertU64(blobId, `${what}.blobId`);
  assertU64(revision, `${what}.revision`);
}

/** Checks a non-negative safe integer (sizes, offsets, counts). */
export function assertNonNegativeInteger(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`${what} must be a non-negative integer, got ${describeValue(value)}`);
  }
}

/** A short, never-throwing description of any value for error messages (bigint-, cycle- and symbol-safe). */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'bigint':
      return `${value}n`;
    case 'string':
      return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
    case 'symbol':
    case 'function':
      return typeof value;
    case 'object':
      return value === null ? 'null' : Array.isArray(value) ? `an array of ${value.length}` : Object.prototype.toString.call(value);
    default:
      return String(value);
  }
}

/** True for `{}`-style objects (prototype Object.prototype or null), false for arrays, dates, class instances. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Checks an optional options argument: undefined or a plain object with only `allowed` keys. */
export function assertOptionsObject(value: unknown, what: string, allowed: readonly string[]): asserts value is Record<string, unknown> | undefined {
  if (value === undefined) return;
  if (!isPlainObject(value)) throw new InvalidArgumentError(`${what} must be an object (or omitted), got ${describeValue(value)}`);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new InvalidArgumentError(`${what}.${key} is not an option (allowed: ${allowed.join(', ')})`);
  }
}

/** Checks the options of `Transaction.create` / `write`: undefined or `{ refs?: Oid[] }`. */
export function assertWriteOptions(options: unknown, what = 'options'): asserts options is WriteOptions | undefined {
  assertOptionsObject(options, what, ['refs']);
  const refs = options?.['refs'];
  if (refs === undefined) return;
  if (!Array.isArray(refs)) throw new InvalidArgumentError(`${what}.refs must be an array of oids, got ${describeValue(refs)}`);
  refs.forEach((oid, i) => assertU64(oid, `${what}.refs[${i}]`));
}

/** Largest UTF-8 size of a transaction's `user` and of its `description` (64 KiB - 1: FileStorage2's u16 fields). */
export const MAX_META_TEXT_BYTES = 0xffff;
/** Largest JSON (UTF-8) size of a transaction's `extension`. */
export const MAX_META_EXTENSION_BYTES = 64 * 1024;
/** Deepest nesting of a transaction's `extension`. */
export const MAX_META_EXTENSION_DEPTH = 32;

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Checks transaction metadata as given to `begin` / `transaction` (`partial`: fields may be omitted)
 * or to `Storage.tpcBegin` (all three fields). Rules, the same for every engine:
 * `user` and `description` are well-formed strings of at most MAX_META_TEXT_BYTES UTF-8 bytes;
 * `extension` is a plain object whose values are JSON data (null, booleans, finite numbers,
 * well-formed strings, arrays, plain objects; no undefined, bigint, function, symbol, Date or
 * cycle), at most MAX_META_EXTENSION_DEPTH deep and MAX_META_EXTENSION_BYTES as JSON.
 */
export function assertTransactionMeta(meta: unknown, what = 'meta', partial = true): asserts meta is Partial<TransactionMeta> {
  if (partial && meta === undefined) return;
  if (!isPlainObject(meta)) throw new InvalidArgumentError(`${what} must be an object with user, description and extension, got ${describeValue(meta)}`);
  assertOptionsObject(meta, what, ['user', 'description', 'extension']);
  for (const field of ['user', 'description'] as const) {
    const text = meta[field];
    if (text === undefined && partial) continue;
    if (typeof text !== 'string') throw new InvalidArgumentError(`${what}.${field} must be a string, got ${describeValue(text)}`);
    if (LONE_SURROGATE.test(text)) throw new InvalidArgumentError(`${what}.${field} is not well-formed Unicode (lone surrogate)`);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_META_TEXT_BYTES) throw new InvalidArgumentError(`${what}.${field} is ${bytes} UTF-8 bytes (max ${MAX_META_TEXT_BYTES})`);
  }
  const extension = meta['extension'];
  if (extension === undefined && partial) return;
  if (!isPlainObject(extension)) throw new InvalidArgumentError(`${what}.extension must be a plain object, got ${describeValue(extension)}`);
  assertJsonData(extension, `${what}.extension`, 0, { path: new Set(), nodes: 0 });
  const bytes = Buffer.byteLength(JSON.stringify(extension), 'utf8');
  if (bytes > MAX_META_EXTENSION_BYTES) throw new InvalidArgumentError(`${what}.extension is ${bytes} bytes as JSON (max ${MAX_META_EXTENSION_BYTES})`);
}

interface JsonWalk {
  readonly path: Set<object>;
  nodes: number;
}

function assertJsonData(value: unknown, what: string, depth: number, walk: JsonWalk): void {
  // Every value takes at least one byte of JSON: a walk past the byte limit stops early.
  if (++walk.nodes > MAX_META_EXTENSION_BYTES) throw new InvalidArgumentError(`${what}: extension is larger than ${MAX_META_EXTENSION_BYTES} bytes as JSON`);
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidArgumentError(`${what} must be JSON data; ${value} is not a finite number`);
    return;
  }
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) throw new InvalidArgumentError(`${what} is not well-formed Unicode (lone surrogate)`);
    return;
  }
  if (typeof value !== 'object' || !(Array.isArray(value) || isPlainObject(value))) {
    throw new InvalidArgumentError(`${what} must be JSON data (null, boolean, number, string, array, plain object), got ${describeValue(value)}`);
  }
  if (depth >= MAX_META_EXTENSION_DEPTH) throw new InvalidArgumentError(`${what} nests deeper than ${MAX_META_EXTENSION_DEPTH} levels`);
  if (walk.path.has(value)) throw new InvalidArgumentError(`${what} contains a cycle`);
  walk.path.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) assertJsonData(value[i], `${what}[${i}]`, depth + 1, walk);
  } else {
    for (const [key, item] of Object.entries(value)) {
      if (LONE_SURROGATE.test(key)) throw new InvalidArgumentError(`${what} has a key that is not well-formed Unicode`);
      assertJsonData(item, `${what}.${key}`, depth + 1, walk);
    }
  }
  walk.path.delete(value);
}
