/**
 * Locators: small, unforgeable handles to one blob revision (WL#3583's BLOB_LOCATOR).
 *
 * A locator is 64 bytes (all integers big-endian):
 *
 *   offset size field
 *   0      1    version (1)
 *   1      1    granted access: bit 0 read, bit 1 write, bit 2 append
 *   2      1    transactional mode: 1 transactional, 2 nontransactional, 3 dataTransactional
 *   3      1    reserved, 0
 *   4      4    handlerton id: CRC-32/IEEE of the handlerton's name
 *   8      8    database id
 *   16     8    oid of the blob object (the record that owns the blob)
 *   24     8    blob id
 *   32     8    revision (tid; 0 = the blob has no committed revision yet)
 *   40     8    nonce (random)
 *   48     16   MAC: HMAC-SHA256 over bytes 0..47 with the database's locator key, first 16 bytes
 *
 * The string form (WL#3583's open_string) is `hl1.` followed by the 64 bytes in base64url, unpadded
 * and canonical (86 characters; the unused low bits of the last one are zero, no other spelling parses).
 * Anyone can parse a locator; only `LocatorCodec.verify` with the right key accepts it.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { BlobTransactionMode } from './capabilities.js';
import { InvalidLocatorError } from './errors.js';
import type { BlobId, Oid, Tid } from './ids.js';

/** Size of a binary locator. */
export const LOCATOR_SIZE = 64;
const VERSION = 1;
const MAC_OFFSET = 48;
const MAC_SIZE = 16;
const STRING_PREFIX = 'hl1.';

/** What a locator lets its holder do. */
export interface LocatorAccess {
  readonly read: boolean;
  readonly write: boolean;
  readonly append: boolean;
}

/** The decoded fields of a locator. */
export interface LocatorFields {
  readonly access: LocatorAccess;
  readonly mode: BlobTransactionMode;
  readonly handlertonId: number;
  readonly databaseId: bigint;
  readonly oid: Oid;
  readonly blobId: BlobId;
  readonly revision: Tid;
}

const MODE_CODES: Record<BlobTransactionMode, number> = { transactional: 1, nontransactional: 2, dataTransactional: 3 };

/** The 32-bit id a handlerton name maps to inside locators. */
export function handlertonId(name: string): number {
  return crc32(name) >>> 0;
}

/** A parsed, structurally valid (not yet verified) locator. */
export class Locator implements LocatorFields {
  readonly access: LocatorAccess;
  readonly mode: BlobTransactionMode;
  readonly handlertonId: number;
  readonly databaseId: bigint;
  readonly oid: Oid;
  readonly blobId: BlobId;
  readonly revision: Tid;
  readonly #bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    if (bytes.length !== LOCATOR_SIZE) {
      throw new InvalidLocatorError(`a locator is ${LOCATOR_SIZE} bytes, got ${bytes.length}`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes[0] !== VERSION) throw new InvalidLocatorError(`unknown locator version ${bytes[0]}`);
    const accessBits = bytes[1]!;
    if ((accessBits & ~0b111) !== 0 || accessBits === 0) throw new InvalidLocatorError(`bad locator access bits ${accessBits}`);
    const mode = (Object.keys(MODE_CODES) as BlobTransactionMode[]).find((m) => MODE_CODES[m] === bytes[2]);
    if (mode === undefined) throw new InvalidLocatorError(`bad locator mode ${bytes[2]}`);
    if (bytes[3] !== 0) throw new InvalidLocatorError('reserved locator byte is not zero');
    this.#bytes = Uint8Array.from(bytes);
    this.access = Object.freeze({ read: (accessBits & 1) !== 0, write: (accessBits & 2) !== 0, append: (accessBits & 4) !== 0 });
    this.mode = mode;
    this.handlertonId = view.getUint32(4, false);
    this.databaseId = view.getBigUint64(8, false);
    this.oid = view.getBigUint64(16, false);
    this.blobId = view.getBigUint64(24, false);
    this.revision = view.getBigUint64(32, false);
    Object.freeze(this);
  }

  /** Parses 64 binary bytes; InvalidLocatorError when malformed. */
  static fromBytes(bytes: Uint8Array): Locator {
    if (!(bytes instanceof Uint8Array)) throw new InvalidLocatorError('a binary locator must be a Uint8Array');
    return new Locator(bytes);
  }

  /** Parses the string form; InvalidLocatorError when malformed. */
  static parse(text: string): Locator {
    if (typeof text !== 'string' || !text.startsWith(STRING_PREFIX)) {
      throw new InvalidLocatorError(`a locator string starts with "${STRING_PREFIX}"`);
    }
    const body = text.slice(STRING_PREFIX.length);
    if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new InvalidLocatorError('a locator string is base64url after its prefix');
    const bytes = Buffer.from(body, 'base64url');
    // Only the canonical spelling: the unused low bits of the last character must be zero.
    if (bytes.toString('base64url') !== body) throw new InvalidLocatorError('a locator string is not in canonical base64url (as toString() writes it)');
    return new Locator(bytes);
  }

  /** Parses either form. */
  static from(value: Locator | Uint8Array | string): Locator {
    if (value instanceof Locator) return value;
    return typeof value === 'string' ? Locator.parse(value) : Locator.fromBytes(value);
  }

  /** A copy of the 64 bytes. */
  toBytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  /** The string form, `hl1.<base64url>`. */
  toString(): string {
    return STRING_PREFIX + Buffer.from(this.#bytes).toString('base64url');
  }

  /** The MAC-covered bytes and the MAC, for verification. */
  macParts(): { signed: Uint8Array; mac: Uint8Array } {
    return { signed: this.#bytes.subarray(0, MAC_OFFSET), mac: this.#bytes.subarray(MAC_OFFSET) };
  }
}

/** Mints and verifies locators for one database with its secret key(s). */
export class LocatorCodec {
  readonly #keys: readonly Uint8Array[];
  readonly #databaseId: bigint;

  /** `keys[0]` signs; every key verifies (so keys can be rotated). */
  constructor(keys: readonly Uint8Array[], databaseId: bigint) {
    if (keys.length === 0 || keys.some((k) => k.length < 16)) {
      throw new InvalidLocatorError('locator keys must be at least 16 bytes');
    }
    this.#keys = keys.map((k) => Uint8Array.from(k));
    this.#databaseId = databaseId;
  }

  /** The database id bound into every locator this codec mints. */
  get databaseId(): bigint {
    return this.#databaseId;
  }

  /** Creates a signed locator. */
  mint(fields: Omit<LocatorFields, 'databaseId'>): Locator {
    const bytes = new Uint8Array(LOCATOR_SIZE);
    const view = new DataView(bytes.buffer);
    bytes[0] = VERSION;
    bytes[1] = (fields.access.read ? 1 : 0) | (fields.access.write ? 2 : 0) | (fields.access.append ? 4 : 0);
    bytes[2] = MODE_CODES[fields.mode];
    view.setUint32(4, fields.handlertonId >>> 0, false);
    view.setBigUint64(8, this.#databaseId, false);
    view.setBigUint64(16, fields.oid, false);
    view.setBigUint64(24, fields.blobId, false);
    view.setBigUint64(32, fields.revision, false);
    bytes.set(randomBytes(8), 40);
    bytes.set(this.#mac(this.#keys[0]!, bytes.subarray(0, MAC_OFFSET)), MAC_OFFSET);
    return Locator.fromBytes(bytes);
  }

  /** Parses and authenticates a locator of this database; InvalidLocatorError when forged, altered or foreign. */
  verify(value: Locator | Uint8Array | string, expectedHandlerton?: string): Locator {
    const locator = Locator.from(value);
    const { signed, mac } = locator.macParts();
    const genuine = this.#keys.some((key) => timingSafeEqual(this.#mac(key, signed), mac));
    if (!genuine) throw new InvalidLocatorError('locator MAC does not match: forged, altered or signed with another key');
    if (locator.databaseId !== this.#databaseId) {
      throw new InvalidLocatorError(`locator belongs to database ${locator.databaseId}, not ${this.#databaseId}`);
    }
    if (expectedHandlerton !== undefined && locator.handlertonId !== handlertonId(expectedHandlerton)) {
      throw new InvalidLocatorError(`locator belongs to another blob handlerton than "${expectedHandlerton}"`);
    }
    return locator;
  }

  #mac(key: Uint8Array, signed: Uint8Array): Uint8Array {
    return createHmac('sha256', key).update(signed).digest().subarray(0, MAC_SIZE);
  }
}
