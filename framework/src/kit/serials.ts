/**
 * The serial rules every engine checks at store and delete (engine-author kit), after ZODB: a write
 * must name the revision it is based on; a deleted object may be recreated with serial 0 or with the
 * delete marker's tid; only a current revision can be deleted.
 */
import { ConflictError, POSKeyError } from '../contracts/errors.js';
import { toHex, ZERO_TID, type Oid, type Tid } from '../contracts/ids.js';

/** What an engine knows of an object's newest committed revision. */
export interface CurrentRevision {
  readonly tid: Tid;
  /** True when the newest revision is a delete marker. */
  readonly deleted: boolean;
}

/** Checks the serial of a store of `oid`; ConflictError when it does not name the current revision. */
export function checkStoreSerial(oid: Oid, current: CurrentRevision | undefined, serial: Tid): void {
  const committed = current !== undefined && !current.deleted ? current.tid : undefined;
  const recreatesDeleted = current !== undefined && current.deleted && serial === current.tid;
  if (serial !== (committed ?? ZERO_TID) && !recreatesDeleted) throw new ConflictError(oid, committed, serial);
}

/** Checks the serial of a delete of `oid`; POSKeyError when there is nothing to delete, ConflictError when stale. */
export function checkDeleteSerial(oid: Oid, current: CurrentRevision | undefined, serial: Tid): void {
  if (current === undefined || current.deleted) throw new POSKeyError(`oid ${toHex(oid)} has no current revision to delete`, oid);
  if (serial !== current.tid) throw new ConflictError(oid, current.tid, serial, 'delete');
}
