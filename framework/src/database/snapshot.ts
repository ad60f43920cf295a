/** A read-only MVCC view of the database as of one tid. */
import type { BlobTransaction } from '../contracts/blob-handlerton.js';
import type { CurrentObject, ObjectsOptions, Snapshot } from '../contracts/database.js';
import { ReadConflictError, ReadOnlyError, TransactionClosedError } from '../contracts/errors.js';
import { toHex } from '../contracts/ids.js';
import { isBlobRecord } from '../blobs/blob-record.js';
import type { ViewBlob } from '../blobs/view-blob.js';
import { BaseView, toDbRecord } from './base-view.js';
import { currentSerials, resolveObjectsOptions } from './iterate.js';

/** A snapshot: reads only, blob handles end when it closes. */
export class DbSnapshot<V = Uint8Array> extends BaseView<V> implements Snapshot<V> {
  readonly readOnly = true;
  #closed = false;

  ensureActive(): void {
    if (this.#closed) throw new TransactionClosedError('snapshot is closed');
  }

  blobTransaction(): BlobTransaction {
    throw new ReadOnlyError('a snapshot is read-only');
  }

  blobModified(_blob: ViewBlob): void {
    throw new ReadOnlyError('a snapshot is read-only');
  }

  /** The objects of this view in oid order (see Snapshot.objects). */
  async *objects(options?: ObjectsOptions): AsyncGenerator<CurrentObject<V>> {
    this.ensureActive();
    const resolved = resolveObjectsOptions(options);
    const horizon = this.storage.packHorizon();
    if (this.tid < horizon) {
      throw new ReadConflictError(`the objects as of tid ${toHex(this.tid)} cannot be listed: the storage was packed up to tid ${toHex(horizon)} (use a newer snapshot)`);
    }
    for await (const [oid] of currentSerials(this.storage, this.tid, resolved)) {
      this.ensureActive();
      const found = await this.committedRecord(oid);
      // Gone only when a pack removed it meanwhile (committedRecord raised ReadConflictError if it could not tell).
      if (found === undefined) continue;
      // The record's own properties (value may be a getter) plus isBlob, frozen as one object.
      const record = toDbRecord<V>(oid, found.tid, found.record, this.codec);
      yield Object.freeze(Object.defineProperties({ isBlob: isBlobRecord(found.record) }, Object.getOwnPropertyDescriptors(record))) as CurrentObject<V>;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.expireBlobHandles(true);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
