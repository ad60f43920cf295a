/**
 * The built-in record codecs (config option `codec`) and how the framework applies one: values
 * encoded on every write (a failure is InvalidArgumentError naming the argument, before anything is
 * buffered), bytes decoded on the first read of `DbRecord.value`.
 */
import { deserialize, serialize } from 'node:v8';
import type { RecordCodec, RecordCodecName } from '../contracts/database.js';
import { InvalidArgumentError, InvalidConfigError, isHandlertonError } from '../contracts/errors.js';
import type { Oid } from '../contracts/ids.js';
import { toHex } from '../contracts/ids.js';
import { describeValue, isPlainObject } from '../util/validate.js';

/** `'bytes'`: values are the record bytes (Uint8Array), unchanged; the default. */
export const bytesCodec: RecordCodec<Uint8Array> = Object.freeze({
  name: 'bytes',
  encode: (value: Uint8Array): Uint8Array => value,
  decode: (data: Uint8Array): Uint8Array => data,
});

/**
 * `'json'`: JSON data (null, booleans, finite numbers, strings, arrays, plain objects) as UTF-8 JSON.
 * Anything JSON would change or drop (undefined, NaN, bigint, a Date, a Map, a class instance, a
 * cycle) is refused, naming where it is (`value.items[2]`), so a value reads back as it was written.
 */
export const jsonCodec: RecordCodec<unknown> = Object.freeze({
  name: 'json',
  encode(value: unknown): Uint8Array {
    assertJson(value, 'value', new Set());
    return Buffer.from(JSON.stringify(value), 'utf8');
  },
  decode(data: Uint8Array): unknown {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data)) as unknown;
  },
});

/**
 * `'v8'`: Node's structured serialization (`v8.serialize`, the format of structuredClone): binary,
 * and it keeps what JSON cannot (bigint, Date, Map, Set, typed arrays, undefined, cycles). Functions
 * and symbols are refused; class instances come back as plain objects. The format carries its
 * version, and newer Node versions read what older ones wrote.
 */
export const v8Codec: RecordCodec<unknown> = Object.freeze({
  name: 'v8',
  encode: (value: unknown): Uint8Array => serialize(value),
  decode: (data: Uint8Array): unknown => deserialize(data) as unknown,
});

/** The built-in codecs by name. */
export const RECORD_CODECS: Readonly<Record<RecordCodecName, RecordCodec<unknown>>> = Object.freeze({
  bytes: bytesCodec as RecordCodec<unknown>,
  json: jsonCodec,
  v8: v8Codec,
});

/** The codec a config names: a built-in name or an object with `name`, `encode` and `decode`; InvalidConfigError naming `codec`. */
export function resolveCodec(value: unknown): RecordCodec<unknown> {
  if (value === undefined) return RECORD_CODECS.bytes;
  if (typeof value === 'string') {
    const codec = (RECORD_CODECS as Record<string, RecordCodec<unknown>>)[value];
    if (codec !== undefined && Object.hasOwn(RECORD_CODECS, value)) return codec;
  } else if (typeof value === 'object' && value !== null) {
    const { name, encode, decode } = value as Partial<RecordCodec<unknown>>;
    if (typeof name === 'string' && name !== '' && typeof encode === 'function' && typeof decode === 'function') return value as RecordCodec<unknown>;
  }
  throw new InvalidConfigError(
    `codec must be ${Object.keys(RECORD_CODECS).map((n) => `"${n}"`).join(', ')} or an object { name, encode(value), decode(bytes) }, got ${describeValue(value)}`,
    'codec',
  );
}

/** `value` encoded by `codec`; InvalidArgumentError naming `argument` when the codec refuses it (or returns no bytes). */
export function encodeValue(codec: RecordCodec<unknown>, value: unknown, argument: string): Uint8Array {
  if (codec === RECORD_CODECS.bytes) return value as Uint8Array;
  let data: unknown;
  try {
    data = codec.encode(value);
  } catch (error) {
    if (isHandlertonError(error, 'HANDLERTON_INVALID_ARGUMENT')) throw error;
    throw new InvalidArgumentError(`${argument} cannot be encoded by codec "${codec.name}": ${messageOf(error)}`, { cause: error });
  }
  if (!(data instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${argument}: codec "${codec.name}" returned ${describeValue(data)} instead of a Uint8Array`);
  }
  return data;
}

/** The value of the record `oid` decoded by `codec`; InvalidConfigError naming `codec` when the bytes are not its. */
export function decodeValue(codec: RecordCodec<unknown>, data: Uint8Array, oid: Oid): unknown {
  try {
    return codec.decode(data);
  } catch (error) {
    throw new InvalidConfigError(
      `the record of oid ${toHex(oid)} cannot be decoded by codec "${codec.name}" (was it written with another codec?): ${messageOf(error)}`,
      'codec',
      { cause: error },
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Refuses what JSON.stringify would change or drop; `path` names the place in messages. */
function assertJson(value: unknown, path: string, seen: Set<object>): void {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidArgumentError(`${path} is ${value}, which JSON cannot hold (codec "json")`);
    return;
  }
  if (typeof value !== 'object' || !(Array.isArray(value) || isPlainObject(value))) {
    throw new InvalidArgumentError(`${path} is ${describeValue(value)}, which is not JSON data (codec "json": null, boolean, finite number, string, array, plain object)`);
  }
  if (seen.has(value)) throw new InvalidArgumentError(`${path} is a cycle (codec "json")`);
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) assertJson(value[i], `${path}[${i}]`, seen);
  } else {
    for (const [key, item] of Object.entries(value)) assertJson(item, `${path}.${key}`, seen);
  }
  seen.delete(value);
}
