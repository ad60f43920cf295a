/** What transactions and snapshots share: consistent reads at one tid and the blobs seen through them. */
import type { BlobTransaction } from '../contracts/blob-handlerton.js';
import type { DbRecord, ReadView, RecordCodec } from '../contracts/database.js';
import { InvalidConfigError, isHandlertonError, POSKeyError, ReadConflictError } from '../contracts/errors.js';
import type { BlobId, Oid, Tid } from '../contracts/ids.js';
import { assertU64, toHex } from '../contracts/ids.js';
import type { RecordInput } from '../contracts/records.js';
import { blobRefOf } from '../blobs/blob-record.js';
import type { BlobServices } from '../blobs/blob-services.js';
import type { BlobHandleImpl } from '../blobs/blob-handle.js';
import { ViewBlob, type BlobViewHost } from '../blobs/view-blob.js';
import type { RuntimeStorage } from './runtime-storage.js';
import { decodeValue, RECORD_CODECS } from './record-codecs.js';

/** A record as the view holds it: committed or written in this view. */
export interface ViewRecord {
  readonly oid: Oid;
  readonly tid: Tid;
  readonly record: RecordInput;
}

/** Reads at `tid` through loadBefore; subclasses add writes or read-only rules. */
export abstract class BaseView<V = Uint8Array> implements ReadView<V>, BlobViewHost {
  readonly tid: Tid;
  readonly services: BlobServices;
  protected readonly storage: RuntimeStorage;
  /** Encodes written values and decodes read ones. */
  protected readonly codec: RecordCodec<unknown>;
  protected readonly blobsByOid = new Map<Oid, ViewBlob>();
  readonly #blobLoads = new Map<Oid, Promise<ViewBlob>>();
  readonly #pending = new Set<Promise<unknown>>();
  abstract readonly readOnly: boolean;

  constructor(storage: RuntimeStorage, services: BlobServices, tid: Tid, codec: RecordCodec<unknown>) {
    this.storage = storage;
    this.services = services;
    this.tid = tid;
    this.codec = codec;
  }

  abstract ensureActive(): void;
  abstract blobTransaction(): BlobTransaction;
  abstract blobModified(blob: ViewBlob): void;

  async read(oid: Oid): Promise<DbRecord<V>> {
    const found = await this.tryRead(oid);
    if (found === undefined) throw new POSKeyError(`oid ${toHex(oid)} does not exist as of tid ${toHex(this.tid)}`, oid);
    return found;
  }

  async tryRead(oid: Oid): Promise<DbRecord<V> | undefined> {
    this.ensureActive();
    assertU64(oid, 'oid');
    const found = await this.viewRecord(oid);
    return found === undefined ? undefined : toDbRecord<V>(found.oid, found.tid, found.record, this.codec);
  }

  async blob(oid: Oid): Promise<ViewBlob> {
    this.ensureActive();
    assertU64(oid, 'oid');
    let loading = this.#blobLoads.get(oid);
    if (loading === undefined) {
      // Cache the promise, not the result: two concurrent blob(oid) calls must share one ViewBlob.
      loading = this.#loadBlob(oid);
      this.#blobLoads.set(oid, loading);
      loading.catch(() => this.#blobLoads.delete(oid));
    }
    return loading;
  }

  /** Runs an operation that may create handles; the view waits for it before expiring handles. */
  track<T>(operation: Promise<T>): Promise<T> {
    this.#pending.add(operation);
    const done = (): void => void this.#pending.delete(operation);
    operation.then(done, done);
    return operation;
  }

  async holdsReference(oid: Oid, serial: Tid, blobId: BlobId, revision: Tid): Promise<boolean> {
    try {
      const record = await this.storage.loadSerial(oid, serial);
      return record.refs.blobs.some((ref) => ref.blobId === blobId && ref.revision === revision);
    } catch (error) {
      if (isHandlertonError(error, 'HANDLERTON_POS_KEY')) return false;
      throw error;
    }
  }

  /** Forgets the ViewBlob of `oid` (after a delete in this view). */
  protected forgetBlob(oid: Oid): void {
    this.#blobLoads.delete(oid);
    this.blobsByOid.delete(oid);
  }

  async #loadBlob(oid: Oid): Promise<ViewBlob> {
    const found = await this.viewRecord(oid);
    if (found === undefined) throw new POSKeyError(`blob ${toHex(oid)} does not exist as of tid ${toHex(this.tid)}`, oid);
    let ref = blobRefOf({ ...found.record, oid });
    if (ref.handlerton !== this.services.blobs.name) {
      throw new InvalidConfigError(
        `blob ${toHex(oid)} is stored in blob handlerton "${ref.handlerton}", but this database uses "${this.services.blobs.name}"`,
        'blobs',
      );
    }
    if (!this.services.dataTransactional) {
      // The record names no revision in these modes: the blob's latest revision is what the view sees.
      ref = { ...ref, revision: (await this.services.blobs.latestRevision(ref.blobId)) ?? 0n };
    }
    const blob = new ViewBlob(this, oid, ref, found.tid);
    this.blobsByOid.set(oid, blob);
    return blob;
  }

  /** The record `oid` as this view sees it. */
  protected viewRecord(oid: Oid): Promise<ViewRecord | undefined> {
    return this.committedRecord(oid);
  }

  /**
   * The committed record `oid` as of this view's tid, or undefined. ReadConflictError when nothing is
   * found and the view is older than the storage's pack horizon: pack may have removed the revision
   * this view would read, so "does not exist" could be a wrong answer (ZODB raises the same).
   */
  protected async committedRecord(oid: Oid): Promise<ViewRecord | undefined> {
    const loaded = await this.storage.readAsOf(oid, this.tid);
    if (loaded !== null) return { oid, tid: loaded.tid, record: { data: loaded.data, refs: loaded.refs } };
    const horizon = this.storage.packHorizon();
    if (this.tid < horizon) {
      throw new ReadConflictError(
        `oid ${toHex(oid)} cannot be read consistently as of tid ${toHex(this.tid)}: the storage was packed up to tid ${toHex(horizon)} (retry with a newer view)`,
      );
    }
    return undefined;
  }

  /** Blob handles of this view that are still open (readers of committed data outlive a transaction). */
  openBlobHandles(): BlobHandleImpl[] {
    return [...this.blobsByOid.values()].flatMap((blob) => blob.openHandles());
  }

  /** Ends the blob handles of this view: all of them, or only those tied to uncommitted data. */
  protected async expireBlobHandles(all: boolean): Promise<void> {
    // Opens already under way finish first, so that every handle they create is expired too.
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    await Promise.all([...this.blobsByOid.values()].map((blob) => blob.expireHandles(all)));
  }
}

/** The application's copy of a record: its bytes copied, its value decoded by `codec` on first access (`data` itself for the bytes codec). */
export function toDbRecord<V>(oid: Oid, tid: Tid, record: RecordInput, codec: RecordCodec<unknown>): DbRecord<V> {
  const data = new Uint8Array(record.data);
  const refs = Object.freeze([...record.refs.oids]);
  // The default codec's value is the bytes: a plain property (a getter costs about 1 µs per record here).
  if (codec === RECORD_CODECS.bytes) return Object.freeze({ oid, tid, data, value: data as V, refs });
  let decoded: { readonly value: V } | undefined;
  return Object.freeze({
    oid,
    tid,
    data,
    get value(): V {
      decoded ??= { value: decodeValue(codec, data, oid) as V };
      return decoded.value;
    },
    refs,
  });
}
