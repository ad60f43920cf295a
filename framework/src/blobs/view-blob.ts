/**
 * One blob as seen by one transaction or snapshot. It enforces the blob rules of DESIGN.md:
 * N readers xor 1 writer, 'w' starts empty uncommitted data, 'a'/'r+' start from committed data,
 * once uncommitted data exists every later open sees it, and handles end with their transaction.
 * For handlertons that are not data-transactional it also commits on flush (WL#3583 modes).
 */
import type { BlobDraft, BlobTransaction } from '../contracts/blob-handlerton.js';
import { blobTransaction } from '../contracts/blob-handlerton.js';
import type { Blob, BlobHandle, BlobMode } from '../contracts/database.js';
import { BlobLockedError, CorruptionError, InvalidArgumentError, isHandlertonError, NotSupportedError, ReadOnlyError } from '../contracts/errors.js';
import type { BlobId, Oid, Tid } from '../contracts/ids.js';
import { toHex } from '../contracts/ids.js';
import type { Locator } from '../contracts/locator.js';
import type { BlobRef } from '../contracts/records.js';
import { assertOptionsObject, describeValue } from '../util/validate.js';
import { BlobHandleImpl, type HandleOwner } from './blob-handle.js';
import type { BlobServices } from './blob-services.js';
import { draftSink, EMPTY_SOURCE, revisionSource, type ByteSource } from './byte-source.js';

const MODES: readonly BlobMode[] = ['r', 'w', 'a', 'r+'];

/** InvalidArgumentError unless `mode` is a blob open mode. */
export function assertBlobMode(mode: unknown): asserts mode is BlobMode {
  if (!MODES.includes(mode as BlobMode)) throw new InvalidArgumentError(`blob open mode must be one of ${MODES.join(', ')}, got ${describeValue(mode)}`);
}

/** What a ViewBlob needs from the transaction or snapshot that owns it. */
export interface BlobViewHost {
  readonly services: BlobServices;
  /** True for snapshots. */
  readonly readOnly: boolean;
  /** Throws TransactionClosedError when the view has ended. */
  ensureActive(): void;
  /** The blob transaction drafts of data-transactional handlertons belong to. */
  blobTransaction(): BlobTransaction;
  /** Records that this blob has uncommitted data to commit with the view. */
  blobModified(blob: ViewBlob): void;
  /** Registers an open under way: the view waits for it before it expires handles. */
  track<T>(operation: Promise<T>): Promise<T>;
  /** True when committed revision `serial` of `oid` still exists and references `revision` of `blobId`. */
  holdsReference?(oid: Oid, serial: Tid, blobId: BlobId, revision: Tid): Promise<boolean>;
}

/** A blob within one view. */
export class ViewBlob implements Blob, HandleOwner {
  readonly oid: Oid;
  readonly blobId: BlobId;
  /** The committed revision this view sees (0n: none; for non-data-transactional modes, the latest when the view opened the blob). */
  readonly baseRevision: Tid;
  /** The serial of the blob object's record in this view (0n when created in this transaction). */
  readonly serial: Tid;
  readonly #host: BlobViewHost;
  readonly #readers = new Set<BlobHandleImpl>();
  /** Readers of this view's uncommitted data: they end with the transaction. */
  readonly #draftReaders = new WeakSet<BlobHandleImpl>();
  #writer: BlobHandleImpl | null = null;
  /** Opens under way, counted before their first await so that the lock rule holds for concurrent opens. */
  #writerOpening = false;
  #readersOpening = 0;
  #draft: BlobDraft | null = null;
  /** For non-data-transactional modes: the private transaction of the current draft. */
  #ownTxn: BlobTransaction | null = null;
  #latestCommitted: Tid = 0n;

  constructor(host: BlobViewHost, oid: Oid, ref: BlobRef, serial: Tid) {
    this.#host = host;
    this.oid = oid;
    this.serial = serial;
    this.blobId = ref.blobId;
    this.baseRevision = ref.revision;
  }

  get engineName(): string {
    return this.#host.services.blobs.name;
  }

  get features(): { seek: boolean; truncate: boolean } {
    const caps = this.#host.services.blobs.capabilities;
    return { seek: caps.seek, truncate: caps.truncate };
  }

  /** True when this view wrote data that is not committed yet. */
  get hasDraft(): boolean {
    return this.#draft !== null;
  }

  async open(mode: BlobMode): Promise<BlobHandle> {
    this.#host.ensureActive();
    assertBlobMode(mode);
    return this.#host.track(mode === 'r' ? this.#openReader() : this.#openWriter(mode));
  }

  /** Opens a reader of a specific committed revision (through a locator). */
  async openRevision(revision: Tid): Promise<BlobHandle> {
    this.#host.ensureActive();
    this.#assertNoWriter();
    return this.#host.track(
      this.#revisionSource(revision).then((source) => this.#track(new BlobHandleImpl('r', source, this.#mint(revision, false, false), this))),
    );
  }

  locator(access: { write?: boolean; append?: boolean } = {}): Locator {
    this.#host.ensureActive();
    assertOptionsObject(access, 'access', ['write', 'append']);
    for (const key of ['write', 'append'] as const) {
      if (access[key] !== undefined && typeof access[key] !== 'boolean') {
        throw new InvalidArgumentError(`access.${key} must be a boolean, got ${describeValue(access[key])}`);
      }
    }
    const revision = this.#latestCommitted > this.baseRevision ? this.#latestCommitted : this.baseRevision;
    return this.#mint(revision, access.write === true, access.append === true);
  }

  async handleClosed(handle: BlobHandleImpl): Promise<void> {
    if (handle === this.#writer) {
      this.#writer = null;
      await this.#endOwnTransaction();
    }
    this.#readers.delete(handle);
  }

  async flushWriter(_handle: BlobHandleImpl): Promise<void> {
    if (this.#host.services.dataTransactional || this.#draft === null) return;
    await this.#commitOwn();
  }

  /** The handles of this blob that are still open. */
  openHandles(): BlobHandleImpl[] {
    return [...this.#readers, ...(this.#writer ? [this.#writer] : [])].filter((h) => h.open);
  }

  /**
   * Ends handles because the view ended. `all` (snapshot close, database close) ends every handle;
   * otherwise (commit, abort) only the writer and readers of uncommitted data end: a reader of a
   * committed revision keeps reading it until it is closed (ZODB BL-8).
   */
  async expireHandles(all: boolean): Promise<void> {
    const readers = all ? [...this.#readers] : [...this.#readers].filter((h) => this.#draftReaders.has(h));
    const handles = [...readers, ...(this.#writer ? [this.#writer] : [])];
    await Promise.all(handles.map((h) => h.expire()));
  }

  async #openReader(): Promise<BlobHandle> {
    this.#assertNoWriter();
    const draft = this.#draft;
    if (draft !== null) {
      const handle = this.#track(new BlobHandleImpl('r', draftSink(() => draft), this.#mint(this.baseRevision, false, false), this));
      this.#draftReaders.add(handle);
      return handle;
    }
    // Claim a reader slot before the first await, so a concurrent writer open sees it.
    this.#readersOpening += 1;
    try {
      const services = this.#host.services;
      const revision = services.dataTransactional ? this.baseRevision : ((await services.blobs.latestRevision(this.blobId)) ?? 0n);
      const source = services.dataTransactional ? await this.#referencedSource(revision) : await this.#revisionSource(revision);
      return this.#track(new BlobHandleImpl('r', source, this.#mint(revision, false, false), this));
    } finally {
      this.#readersOpening -= 1;
    }
  }

  async #openWriter(mode: Exclude<BlobMode, 'r'>): Promise<BlobHandle> {
    if (this.#host.readOnly) throw new ReadOnlyError(`cannot open blob ${toHex(this.oid)} with '${mode}' in a read-only snapshot`);
    const caps = this.#host.services.blobs.capabilities;
    if (mode === 'a' && !caps.append) throw new NotSupportedError('append', this.engineName);
    this.#assertNoWriter();
    if (this.#readers.size > 0 || this.#readersOpening > 0) throw new BlobLockedError(`blob ${toHex(this.oid)} is already opened for reading`);
    // Claim the writer slot before the first await, so a concurrent open sees the blob as locked.
    this.#writerOpening = true;
    try {
      if (this.#draft === null) {
        const base = mode === 'w' ? null : await this.#committedBase();
        if (base !== null) await this.#host.services.settled(base);
        try {
          this.#draft = await this.#host.services.blobs.createDraft(this.#draftTransaction(), this.blobId, this.oid, base);
        } catch (error) {
          throw base !== null && this.#host.services.dataTransactional ? await this.#lostRevision(error, base) : error;
        }
      } else if (mode === 'w') {
        await this.#draft.truncate(0);
      }
    } finally {
      this.#writerOpening = false;
    }
    this.#host.blobModified(this);
    const handle = new BlobHandleImpl(mode, draftSink(() => this.#requireDraft()), this.#mint(this.baseRevision, true, mode === 'a'), this);
    this.#writer = handle;
    return handle;
  }

  #assertNoWriter(): void {
    if (this.#writer !== null || this.#writerOpening) throw new BlobLockedError(`blob ${toHex(this.oid)} is already opened for writing`);
  }

  /** A source over committed `revision` (empty for 0), waiting out a commit still publishing it. */
  async #revisionSource(revision: Tid): Promise<ByteSource> {
    if (revision === 0n) return EMPTY_SOURCE;
    await this.#host.services.settled(revision);
    return revisionSource(await this.#host.services.blobs.openRevision(this.blobId, revision));
  }

  /**
   * A source over `revision`, the one this view's committed record references. While that record
   * exists its reference is counted, so the revision cannot have been reclaimed: a handlerton that
   * does not have it lost committed data (damage), CorruptionError naming its location. When the
   * record is gone too (pack, GC), the POSKeyError stands.
   */
  async #referencedSource(revision: Tid): Promise<ByteSource> {
    try {
      return await this.#revisionSource(revision);
    } catch (error) {
      throw await this.#lostRevision(error, revision);
    }
  }

  /** `error` itself, or CorruptionError when it is a POSKeyError for `revision` while this view's committed record references it. */
  async #lostRevision(error: unknown, revision: Tid): Promise<unknown> {
    if (!isHandlertonError(error, 'HANDLERTON_POS_KEY') || this.serial === 0n || this.#host.holdsReference === undefined) return error;
    if (!(await this.#host.holdsReference(this.oid, this.serial, this.blobId, revision))) return error;
    const blobs = this.#host.services.blobs;
    return new CorruptionError(
      `blob object ${toHex(this.oid)}: its committed record (tid ${toHex(this.serial)}) references revision ${toHex(revision)} of blob ${toHex(this.blobId)}, which blob handlerton "${blobs.name}" does not have`,
      blobs.location,
      undefined,
      { cause: error },
    );
  }

  async #committedBase(): Promise<Tid | null> {
    if (this.#host.services.dataTransactional) return this.baseRevision === 0n ? null : this.baseRevision;
    return this.#host.services.blobs.latestRevision(this.blobId);
  }

  #draftTransaction(): BlobTransaction {
    if (this.#host.services.dataTransactional) return this.#host.blobTransaction();
    this.#ownTxn ??= blobTransaction(`blob-${this.blobId}`);
    return this.#ownTxn;
  }

  #requireDraft(): BlobDraft {
    if (this.#draft === null) throw new InvalidArgumentError(`blob ${toHex(this.oid)} has no uncommitted data`);
    return this.#draft;
  }

  /** Commits the current draft as a new revision on its own (transactional / nontransactional modes). */
  #commitOwn(): Promise<void> {
    // One own-commit per blob at a time: each releases exactly the revision it replaced.
    return this.#host.services.exclusive(this.blobId, () => this.#commitOwnNow());
  }

  async #commitOwnNow(): Promise<void> {
    const services = this.#host.services;
    const txn = this.#ownTxn!;
    const previous = (await services.blobs.latestRevision(this.blobId)) ?? 0n;
    const revision = services.nextRevision(previous > this.#latestCommitted ? previous : this.#latestCommitted);
    const ref = { handlerton: services.blobs.name, blobId: this.blobId, revision };
    try {
      await services.blobs.addReferences(txn, [ref]);
      await services.blobs.prepare(txn, revision);
    } catch (error) {
      await services.blobs.rollback(txn);
      this.#draft = null;
      this.#ownTxn = null;
      throw error;
    }
    await services.blobs.commit(txn);
    this.#latestCommitted = revision;
    if (previous !== 0n) {
      await services.blobs.releaseReferences([{ ...ref, revision: previous }]);
      await services.blobs.reclaim();
    }
    // Later writes through the same handle continue from the committed revision.
    this.#ownTxn = blobTransaction(`blob-${this.blobId}`);
    this.#draft = await services.blobs.createDraft(this.#ownTxn, this.blobId, this.oid, revision);
  }

  /** When a writer closes in a non-data-transactional mode: nontransactional commits, transactional discards. */
  async #endOwnTransaction(): Promise<void> {
    const services = this.#host.services;
    if (services.dataTransactional || this.#ownTxn === null) return;
    if (services.blobs.capabilities.mode === 'nontransactional' && this.#draft !== null) await this.#commitOwn();
    const txn = this.#ownTxn;
    this.#ownTxn = null;
    this.#draft = null;
    if (txn !== null) await services.blobs.rollback(txn);
  }

  #track(handle: BlobHandleImpl): BlobHandleImpl {
    this.#readers.add(handle);
    return handle;
  }

  #mint(revision: Tid, write: boolean, append: boolean): Locator {
    const services = this.#host.services;
    return services.codec.mint({
      access: { read: true, write, append },
      mode: services.blobs.capabilities.mode,
      handlertonId: services.handlertonId,
      oid: this.oid,
      blobId: this.blobId,
      revision,
    });
  }
}
