/** A read-only MVCC view of the database as of one tid. */
import type { BlobTransaction } from '../contracts/blob-handlerton.js';
import type { Snapshot } from '../contracts/database.js';
import { ReadOnlyError, TransactionClosedError } from '../contracts/errors.js';
import type { ViewBlob } from '../blobs/view-blob.js';
import { BaseView } from './base-view.js';

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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.expireBlobHandles(true);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
