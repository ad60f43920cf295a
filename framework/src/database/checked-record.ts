/**
 * Records a transaction made from its caller's data (a private copy, checked when made): the
 * framework's storage wrapper does not check them again when the commit hands them to the engine.
 * Not exported from the package, so no caller can make one without the checks.
 */
import { InvalidArgumentError } from '../contracts/errors.js';
import type { Oid } from '../contracts/ids.js';
import { assertU64 } from '../contracts/ids.js';
import { NO_REFS, type RecordInput } from '../contracts/records.js';
import type { WriteOptions } from '../contracts/database.js';
import { ImmutableRecord } from './record-cache.js';

/** A record made by `checkedRecord`: valid, and changed by nobody afterwards. */
export class CheckedRecord extends ImmutableRecord {}

/** True when `record` was made (and checked) by `checkedRecord`. */
export function isCheckedRecord(record: RecordInput | null): record is CheckedRecord {
  return record instanceof CheckedRecord;
}

/** The record a write stores: a private copy of `data`, with `options.refs` when given, else `currentRefs` (the replaced revision's). */
export function checkedRecord(data: Uint8Array, options: WriteOptions | undefined, currentRefs: readonly Oid[]): CheckedRecord {
  if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('record data must be a Uint8Array');
  const oids = options?.refs ?? currentRefs;
  if (!Array.isArray(oids)) throw new InvalidArgumentError('refs must be an array of oids');
  for (let i = 0; i < oids.length; i++) assertU64(oids[i], `refs[${i}]`);
  // A private copy nobody changes afterwards (the record cache and engines keep it as it is). Small
  // copies come from Node's shared buffer pool: one allocation per 8 KiB instead of one per record.
  const copy = Buffer.allocUnsafe(data.length);
  copy.set(data);
  return new CheckedRecord(copy, oids.length === 0 ? NO_REFS : { oids: [...oids], blobs: [] });
}
