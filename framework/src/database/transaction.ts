/**
 * A read-write transaction. Reads see the state as of its start (snapshot isolation); writes are
 * buffered and committed by two-phase commit across the storage and the blob handlerton; the
 * first committer of an object wins and later ones get ConflictError.
 */
import type { BlobTransaction } from '../contracts/blob-handlerton.js';
import { blobTransaction } from '../contracts/blob-handlerton.js';
import type { BlobHandle, BlobMode, RecordCodec, Transaction, WriteOptions } from '../contracts/database.js';
import {
  ConflictError,
  InvalidArgumentError,
  InvalidLocatorError,
  NotSupportedError,
  POSKeyError,
  StorageIOError,
  TransactionClosedError,
} from '../contracts/errors.js';
import type { Oid, Tid } from '../contracts/ids.js';
import { assertU64, ROOT_OID, toHex, ZERO_TID } from '../contracts/ids.js';
import { Locator } from '../contracts/locator.js';
import type { Logger } from '../contracts/context.js';
import type { BlobRef, RecordInput, TransactionMeta } from '../contracts/records.js';
import { storageTransaction, type StorageTransaction, type StoreWrite } from '../contracts/storage.js';
import { blobRecord, isBlobRecord } from '../blobs/blob-record.js';
import type { BlobServices } from '../blobs/blob-services.js';
import { assertBlobMode, type ViewBlob } from '../blobs/view-blob.js';
import { assertWriteOptions } from '../util/validate.js';
import { BaseView, type ViewRecord } from './base-view.js';
import type { RuntimeStorage } from './runtime-storage.js';
import { checkedRecord, CheckedWrite, checkedWrite } from './checked-record.js';
import { encodeValue } from './record-codecs.js';

/** A buffered write, in the shape the commit hands to the storage (no copy at commit). */
interface PendingWrite extends StoreWrite {
  /** null: delete. */
  readonly record: RecordInput | null;
  /** The serial the write is based on (0n: created in this transaction). */
  readonly serial: Tid;
}

/** What `write` returns when it finished without waiting (one shared, already resolved promise). */
const WRITTEN: Promise<void> = Promise.resolve();

type TxState = 'active' | 'committing' | 'committed' | 'aborted';

/** A read-write transaction over one database. */
export class DbTransaction<V = Uint8Array> extends BaseView<V> implements Transaction<V> {
  readonly readOnly = false;
  readonly #meta: Partial<TransactionMeta>;
  readonly #logger: Logger;
  readonly #writes = new Map<Oid, PendingWrite>();
  readonly #modifiedBlobs = new Set<ViewBlob>();
  readonly #blobTxn: BlobTransaction = blobTransaction();
  readonly #onEnd: (tx: DbTransaction<V>) => void;
  #state: TxState = 'active';
  /** Set once tpcFinish was called: from then on the blob transaction is never rolled back. */
  #finishAttempted = false;
  /** Set once tpcFinish returned: the transaction is committed in the storage. */
  #storageFinished = false;
  readonly #deletedBlobs = new Set<Oid>();
  /** Committed records this transaction read (undefined: the object does not exist), so a later write needs no storage read. */
  readonly #reads = new Map<Oid, ViewRecord | undefined>();
  #settleEnded!: () => void;
  readonly #ended = new Promise<void>((resolve) => (this.#settleEnded = resolve));

  constructor(
    storage: RuntimeStorage,
    services: BlobServices,
    tid: Tid,
    meta: Partial<TransactionMeta>,
    logger: Logger,
    onEnd: (tx: DbTransaction<V>) => void,
    codec: RecordCodec<unknown>,
  ) {
    super(storage, services, tid, codec);
    this.#meta = meta;
    this.#logger = logger;
    this.#onEnd = onEnd;
  }

  get active(): boolean {
    return this.#state === 'active';
  }

  ensureActive(): void {
    if (this.#state !== 'active') throw new TransactionClosedError(`transaction is ${this.#state}`);
  }

  blobTransaction(): BlobTransaction {
    return this.#blobTxn;
  }

  blobModified(blob: ViewBlob): void {
    this.#modifiedBlobs.add(blob);
  }

  async create(value: V, options?: WriteOptions): Promise<Oid> {
    this.ensureActive();
    if (options !== undefined) assertWriteOptions(options);
    // Encoded (and refused) before an oid is taken: a value the codec refuses changes nothing.
    const record = checkedRecord(encodeValue(this.codec, value, 'value'), options, []);
    const oid = await this.storage.newOid();
    this.#writes.set(oid, new CheckedWrite(record.data, record.refs, oid, ZERO_TID));
    return oid;
  }

  write(oid: Oid, value: V, options?: WriteOptions): Promise<void> {
    // Synchronous when the serial is known (written, read or cached): no promise or await per write.
    try {
      this.ensureActive();
      if (options !== undefined) assertWriteOptions(options);
      assertU64(oid, 'oid');
      // Encoded before anything is buffered: a value the codec refuses leaves the transaction as it was.
      const data = encodeValue(this.codec, value, 'value');
      const pending = this.#writes.get(oid);
      if (pending !== undefined) {
        if (pending.record === null) throw new POSKeyError(`oid ${toHex(oid)} was deleted in this transaction`, oid);
        if (isBlobRecord(pending.record)) throw new InvalidArgumentError(`oid ${toHex(oid)} is a blob object; write through blob(oid).open()`);
        this.#writes.set(oid, checkedWrite(oid, pending.serial, data, options, pending.record.refs.oids));
        return WRITTEN;
      }
      // The serial comes from what this transaction read, or the record cache, before the engine is asked.
      const known = this.#knownCommitted(oid);
      if (known === undefined) return this.#writeAfterRead(oid, data, options);
      this.#writeOver(oid, known, data, options);
      return WRITTEN;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `write` of an object whose committed revision must be asked of the engine first. */
  async #writeAfterRead(oid: Oid, data: Uint8Array, options: WriteOptions | undefined): Promise<void> {
    const committed = await this.committedRecord(oid);
    if (committed === undefined && oid !== ROOT_OID) throw new POSKeyError(`oid ${toHex(oid)} does not exist; use create()`, oid);
    this.#writeOver(oid, committed, data, options);
  }

  /** Buffers a write replacing `committed` (undefined: the root, not yet created). */
  #writeOver(oid: Oid, committed: ViewRecord | undefined, data: Uint8Array, options: WriteOptions | undefined): void {
    if (committed !== undefined && isBlobRecord(committed.record)) {
      throw new InvalidArgumentError(`oid ${toHex(oid)} is a blob object; write through blob(oid).open()`);
    }
    // An omitted `refs` keeps the references of the revision this write replaces (never drops them silently).
    this.#writes.set(oid, checkedWrite(oid, committed?.tid ?? ZERO_TID, data, options, committed?.record.refs.oids ?? []));
  }

  async delete(oid: Oid): Promise<void> {
    this.ensureActive();
    assertU64(oid, 'oid');
    if (!this.storage.capabilities.externalGC) throw new NotSupportedError('externalGC', this.storage.name);
    const blob = this.blobsByOid.get(oid);
    if (blob !== undefined) {
      // A deleted blob object commits no new revision: its handles end and its draft is not stored.
      await blob.expireHandles(true);
      this.#deletedBlobs.add(oid);
      this.#modifiedBlobs.delete(blob);
      this.forgetBlob(oid);
    }
    const pending = this.#writes.get(oid);
    if (pending?.record === null) return;
    if (pending !== undefined && pending.serial === ZERO_TID) {
      this.#writes.delete(oid);
      return;
    }
    const committed = pending === undefined ? await this.committedRecord(oid) : undefined;
    const serial = pending?.serial ?? committed?.tid;
    if (serial === undefined) throw new POSKeyError(`oid ${toHex(oid)} does not exist as of tid ${toHex(this.tid)}`, oid);
    this.#writes.set(oid, { oid, record: null, serial });
  }

  async createBlob(): Promise<ViewBlob> {
    this.ensureActive();
    const blobId = await this.services.blobs.createBlob();
    const oid = await this.storage.newOid();
    this.#writes.set(oid, { oid, record: blobRecord(this.services.blobs.name, blobId, ZERO_TID), serial: ZERO_TID });
    return this.blob(oid);
  }

  async openLocator(value: Locator | Uint8Array | string, mode: BlobMode): Promise<BlobHandle> {
    this.ensureActive();
    assertBlobMode(mode);
    const locator = this.services.codec.verify(value, this.services.blobs.name);
    const blob = await this.blob(locator.oid);
    if (blob.blobId !== locator.blobId) throw new InvalidLocatorError(`locator names blob ${toHex(locator.blobId)}, but oid ${toHex(locator.oid)} holds blob ${toHex(blob.blobId)}`);
    if (mode === 'r') return blob.openRevision(locator.revision);
    const allowed = mode === 'a' ? locator.access.append || locator.access.write : locator.access.write;
    if (!allowed) throw new InvalidLocatorError(`locator does not grant ${mode === 'a' ? 'append' : 'write'} access`);
    if (this.services.dataTransactional && locator.revision !== blob.baseRevision) {
      throw new ConflictError(locator.oid, blob.baseRevision, locator.revision, 'locator names an older revision of the blob');
    }
    return blob.open(mode);
  }

  /** Commits; returns the commit tid (this view's tid when nothing was written). */
  async commit(): Promise<Tid> {
    this.ensureActive();
    this.#state = 'committing';
    try {
      await this.expireBlobHandles(false);
      const tid = await this.#twoPhaseCommit();
      this.#state = 'committed';
      return tid;
    } catch (error) {
      this.#state = this.#storageFinished ? 'committed' : 'aborted';
      // Before tpcFinish nothing is visible: discard the blob drafts. After it, never: a prepared
      // revision the storage may already reference is left for recover() at the next open.
      if (!this.#finishAttempted) await this.services.blobs.rollback(this.#blobTxn);
      throw error;
    } finally {
      this.#end();
    }
  }

  /** Aborts: nothing of this transaction becomes visible. Never throws. */
  async abort(): Promise<void> {
    if (this.#state !== 'active') return;
    this.#state = 'aborted';
    try {
      await this.expireBlobHandles(false);
      await this.services.blobs.rollback(this.#blobTxn);
    } catch (error) {
      this.#logger.error({ err: String(error) }, 'blob rollback failed during abort');
    } finally {
      this.#end();
    }
  }

  /** Resolves once the transaction has committed or aborted (never rejects). */
  get ended(): Promise<void> {
    return this.#ended;
  }

  #end(): void {
    this.#settleEnded();
    this.#onEnd(this);
  }

  /** The committed record of `oid` when known without asking the engine (read before, or cached). */
  #knownCommitted(oid: Oid): ViewRecord | undefined {
    const read = this.#reads.get(oid);
    if (read !== undefined) return read;
    // The cache's revision as it is (it never changes, and reads hand out copies). Not remembered in
    // `#reads`: the write that asked for it is buffered, and later writes of the object find that.
    return this.storage.peekAsOf(oid, this.tid);
  }

  protected override async committedRecord(oid: Oid): Promise<ViewRecord | undefined> {
    if (this.#reads.has(oid)) return this.#reads.get(oid);
    const found = await super.committedRecord(oid);
    this.#reads.set(oid, found);
    return found;
  }

  protected override async viewRecord(oid: Oid): Promise<ViewRecord | undefined> {
    const pending = this.#writes.get(oid);
    if (pending === undefined) return this.committedRecord(oid);
    return pending.record === null ? undefined : { oid, tid: pending.serial, record: pending.record };
  }

  async #twoPhaseCommit(): Promise<Tid> {
    const dataBlobs = this.services.dataTransactional ? [...this.#modifiedBlobs].filter((b) => b.hasDraft && !this.#deletedBlobs.has(b.oid)) : [];
    if (this.#writes.size === 0 && dataBlobs.length === 0) return this.tid;
    const txn = storageTransaction(this.#meta);
    const tid = await this.storage.tpcBegin(txn);
    const settle = this.services.trackCommit(tid);
    try {
      return await this.#commitAs(txn, tid, dataBlobs);
    } finally {
      settle();
    }
  }

  async #commitAs(txn: StorageTransaction, tid: Tid, dataBlobs: ViewBlob[]): Promise<Tid> {
    let prepared = false;
    try {
      const blobWrites = new Set(dataBlobs.map((b) => b.oid));
      const newRefs: BlobRef[] = [];
      const writes: StoreWrite[] = [];
      // The buffered writes are handed over as they are (they never change once buffered).
      for (const write of this.#writes.values()) {
        if (blobWrites.size > 0 && blobWrites.has(write.oid)) continue;
        writes.push(write);
        if (write.record !== null && write.record.refs.blobs.length > 0) {
          for (const ref of write.record.refs.blobs) if (ref.revision !== ZERO_TID) newRefs.push(ref);
        }
      }
      for (const blob of dataBlobs) {
        const serial = this.#writes.get(blob.oid)?.serial ?? blob.serial;
        const record = blobRecord(this.services.blobs.name, blob.blobId, tid);
        writes.push({ oid: blob.oid, serial, record });
        newRefs.push(...record.refs.blobs);
      }
      // One batch: the engine checks and encodes the whole transaction's records in one pass.
      await this.storage.storeMany(writes, txn);
      if (newRefs.length > 0) await this.services.blobs.addReferences(this.#blobTxn, newRefs);
      if (newRefs.length > 0 || dataBlobs.length > 0) {
        // Any record of this transaction witnesses its commit (for recover of a references-only prepare).
        const witness = dataBlobs[0]?.oid ?? this.#writes.keys().next().value;
        await this.services.blobs.prepare(this.#blobTxn, tid, witness);
        prepared = true;
      }
      await this.storage.tpcVote(txn);
    } catch (error) {
      await this.storage.tpcAbort(txn);
      await this.services.blobs.rollback(this.#blobTxn);
      throw error;
    }
    this.#finishAttempted = true;
    let committed: Tid;
    try {
      committed = await this.storage.tpcFinish(txn);
    } catch (error) {
      await this.storage.tpcAbort(txn);
      throw new StorageIOError(
        `the storage failed while finishing the commit of tid ${toHex(tid)}; whether it committed is known after a reopen (prepared blob data is kept for recovery)`,
        { cause: error },
      );
    }
    this.#storageFinished = true;
    // Drafts nobody committed (a blob deleted in this transaction) are discarded.
    if (!prepared) await this.services.blobs.rollback(this.#blobTxn);
    if (prepared) {
      try {
        await this.services.blobs.commit(this.#blobTxn);
      } catch (error) {
        this.#logger.error({ err: String(error), tid: toHex(committed) }, 'blob commit failed after the storage committed');
        throw new StorageIOError(
          `transaction ${toHex(committed)} committed, but its blob revisions could not be published; reopen the database to recover them`,
          { cause: error },
        );
      }
    }
    return committed;
  }
}
