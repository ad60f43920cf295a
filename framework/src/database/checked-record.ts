/**
 * Records a transaction made from its caller's data (a private copy, checked when made): the
 * framework's storage wrapper does not check them again when the commit hands them to the engine.
 * Not exported from the package, so no caller can make one without the checks.
 */
import { InvalidArgumentError } from '../contracts/errors.js';
import type { Oid, Tid } from '../contracts/ids.js';
import { assertU64 } from '../contracts/ids.js';
import { NO_REFS, type RecordInput, type RecordRefs } from '../contracts/records.js';
import type { StoreWrite } from '../contracts/storage.js';
import type { WriteOptions } from '../contracts/database.js';
import { ImmutableRecord } from './record-cache.js';

/** A record made by `checkedRecord`: valid, and changed by nobody afterwards. */
export class CheckedRecord extends ImmutableRecord {}

/** True when `record` was made (and checked) by `checkedRecord`. */
export function isCheckedRecord(record: RecordInput | null): record is CheckedRecord {
  return record instanceof CheckedRecord;
}

/**
 * A transaction's write of a checked record: the record and the storage write that carries it are
 * one object (`record` is the object itself), so buffering a write allocates nothing else.
 */
export class CheckedWrite extends CheckedRecord implements StoreWrite {
  constructor(
    data: Uint8Array,
    refs: RecordRefs,
    readonly oid: Oid,
    /** The serial the write is based on (0n: the object is created by this transaction). */
    readonly serial: Tid,
  ) {
    super(data, refs);
  }

  /** The record this write stores: the write itself. */
  get record(): CheckedRecord {
    return this;
  }
}

/** The write of `oid` based on `serial`, storing what `checkedRecord(data, options, currentRefs)` makes. */
export function checkedWrite(oid: Oid, serial: Tid, data: Uint8Array, options: WriteOptions | undefined, currentRefs: readonly Oid[]): CheckedWrite {
  const refs = checkedRefs(data, options, currentRefs);
  return new CheckedWrite(privateCopy(data), refs, oid, serial);
}

/** The record a write stores: a private copy of `data`, with `options.refs` when given, else `currentRefs` (the replaced revision's). */
export function checkedRecord(data: Uint8Array, options: WriteOptions | undefined, currentRefs: readonly Oid[]): CheckedRecord {
  const refs = checkedRefs(data, options, currentRefs);
  return new CheckedRecord(privateCopy(data), refs);
}

/** Checks `data` and the references (`options.refs`, else `currentRefs`); returns the references to store (a copy). */
function checkedRefs(data: Uint8Array, options: WriteOptions | undefined, currentRefs: readonly Oid[]): RecordRefs {
  if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('record data must be a Uint8Array');
  const oids = options?.refs ?? currentRefs;
  if (!Array.isArray(oids)) throw new InvalidArgumentError('refs must be an array of oids');
  for (let i = 0; i < oids.length; i++) assertU64(oids[i], `refs[${i}]`);
  return oids.length === 0 ? NO_REFS : { oids: [...oids], blobs: [] };
}

/**
 * A private copy of `data` nobody changes afterwards (the record cache and engines keep it as it is).
 * Small copies come from Node's shared buffer pool: one allocation per 8 KiB instead of one per record.
 */
function privateCopy(data: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafe(data.length);
  copy.set(data);
  return copy;
}
