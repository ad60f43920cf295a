/**
 * The FileStorage2 blob handlerton: revisions as directories of chunk files, drafts under tmp/,
 * publication by rename, reference counts in a checksummed journal. See FORMAT.md "Blob layout".
 */
import type {
  BlobCapabilities,
  BlobDraft,
  BlobHandlerton,
  BlobId,
  BlobRef,
  BlobTransaction,
  EngineContext,
  EngineVerifyReport,
  Logger,
  Oid,
  PendingReferences,
  PendingRevision,
  ReclaimResult,
  RevisionReader,
  Tid,
  VerifyObserver,
} from '@handlerton/framework';
import {
  CorruptionError,
  isHandlertonError,
  POSKeyError,
  ReadOnlyError,
  StorageClosedError,
  StorageIOError,
  StorageTransactionError,
  TransactionClosedError,
  assertU64,
  blobCapabilities,
  toHex,
} from '@handlerton/framework';
import type { BlobIndex, RevisionState } from './blob-index.js';
import { ChunkedDraft } from './draft.js';
import type { DraftEnvironment } from './draft.js';
import { FsOps, ioError } from './fs-ops.js';
import { readHoles } from './holes.js';
import type { HoleSet } from './holes.js';
import type { Journal } from './journal.js';
import type { JournalRecord, PreparedDraft, RevisionKey } from './journal-codec.js';
import type { BlobLayout } from './layout.js';
import { checkOptions } from './options.js';
import type { BlobSyncMode, FileStorage2BlobsOptions } from './options.js';
import { ChunkedRevisionReader } from './revision-reader.js';
import type { RevisionFiles } from './revision-files.js';
import { createTxnState } from './blob-txn.js';
import type { TxnState } from './blob-txn.js';
import { resolvePrepared } from './recovery.js';
import type { RecoveryEnvironment } from './recovery.js';
import { openDirectory } from './startup.js';
import { verifyBlobDirectory } from './verify-blobs.js';
import type { OpenedDirectory } from './startup.js';

/** Blob ids reserved per journal record. */
const BLOB_ID_RESERVATION = 1024n;

/** FileStorage2's blob handlerton: durable, data-transactional, chunked with copy-on-write. */
export class FileStorage2Blobs implements BlobHandlerton {
  /** The capability manifest, the same for every instance. */
  static readonly capabilities: BlobCapabilities = blobCapabilities({
    mode: 'dataTransactional',
    seek: true,
    truncate: true,
    append: true,
    refcount: true,
    partialUpdate: true,
    durable: true,
  });

  readonly name = 'filestorage2';
  readonly capabilities: BlobCapabilities = FileStorage2Blobs.capabilities;

  readonly #ops: FsOps;
  readonly #logger: Logger;
  readonly #syncMode: BlobSyncMode;
  readonly #layout: BlobLayout;
  readonly #index: BlobIndex;
  readonly #journal: Journal;
  readonly #files: RevisionFiles;
  readonly #releaseLock: () => Promise<void>;
  readonly #draftEnv: DraftEnvironment;
  readonly #txns = new Map<BlobTransaction, TxnState>();
  readonly #finished = new WeakSet<BlobTransaction>();
  readonly #readers = new Set<ChunkedRevisionReader>();
  #reserving: Promise<void> | null = null;
  #failed: StorageIOError | null = null;
  #closed = false;
  readonly #readOnly: boolean;

  private constructor(ops: FsOps, logger: Logger, syncMode: BlobSyncMode, opened: OpenedDirectory, readOnly: boolean) {
    this.#ops = ops;
    this.#readOnly = readOnly;
    this.#logger = logger;
    this.#syncMode = syncMode;
    this.#layout = opened.layout;
    this.#index = opened.index;
    this.#journal = opened.journal;
    this.#files = opened.files;
    this.#releaseLock = opened.releaseLock;
    this.#draftEnv = {
      ops,
      chunkSize: opened.chunkSize,
      sync: syncMode !== 'none',
      fatal: (error) => this.#fatal(error),
      assertWritable: () => this.#assertWritable(),
    };
  }

  /** The blob directory (named by the Database when a committed record references a revision it lacks). */
  get location(): string {
    return this.#layout.root;
  }

  /** The handlerton's own check, read-only from the files: format marker, journal, every chunk checksum (verify-blobs.ts). */
  async verify(observer?: VerifyObserver): Promise<EngineVerifyReport> {
    if (this.#closed) throw new StorageClosedError('filestorage2 blobs: verify after close');
    return verifyBlobDirectory(this.#layout.root, observer);
  }

  /** Opens (or creates, unless `readOnly`) the blob directory `options.dir`. */
  static async open(options: FileStorage2BlobsOptions, context: EngineContext): Promise<FileStorage2Blobs> {
    const checked = checkOptions(options);
    const logger = context.logger.child({ handlerton: 'filestorage2-blobs' });
    const ops = new FsOps(context.fs);
    const opened = await openDirectory(ops, checked, logger);
    return new FileStorage2Blobs(ops, logger, checked.syncMode, opened, checked.readOnly);
  }

  /** Bytes per chunk file in this directory. */
  get chunkSize(): number {
    return this.#draftEnv.chunkSize;
  }

  /** Allocates a new blob id (no revision exists yet). */
  async createBlob(): Promise<BlobId> {
    this.#assertWritable();
    const blobId = this.#index.allocateBlobId();
    while (blobId >= this.#index.reservedBlobId) {
      this.#reserving ??= this.#reserve(blobId + BLOB_ID_RESERVATION).finally(() => {
        this.#reserving = null;
      });
      await this.#reserving;
    }
    return blobId;
  }

  /** Opens a committed revision for reading. POSKeyError when it does not exist (or was reclaimed). */
  async openRevision(blobId: BlobId, revision: Tid): Promise<RevisionReader> {
    this.#assertOpen();
    assertU64(blobId, 'blobId');
    assertU64(revision, 'revision');
    const state = await this.#revision(blobId, revision);
    this.#index.addReader(state);
    const dir = this.#layout.revisionDir(blobId, revision);
    let holes: HoleSet;
    try {
      holes = await this.#holesOf(blobId, revision, dir);
    } catch (error) {
      await this.#dropReader(state);
      throw error;
    }
    const source = { blobId, revision, dir, size: state.size, chunkSize: this.chunkSize, holes };
    const reader: ChunkedRevisionReader = new ChunkedRevisionReader(this.#ops, source, async () => {
      this.#readers.delete(reader);
      await this.#dropReader(state);
    });
    this.#readers.add(reader);
    return reader;
  }

  /** The newest committed revision of `blobId`, or null when it has none. */
  async latestRevision(blobId: BlobId): Promise<Tid | null> {
    this.#assertOpen();
    assertU64(blobId, 'blobId');
    return this.#index.latest(blobId);
  }

  /** Creates the draft of `blobId` in `txn`, empty or sharing the chunks of revision `base`. */
  async createDraft(txn: BlobTransaction, blobId: BlobId, oid: Oid, base: Tid | null): Promise<BlobDraft> {
    this.#assertWritable();
    assertU64(blobId, 'blobId');
    assertU64(oid, 'oid');
    if (base !== null) assertU64(base, 'base revision');
    if (!this.#index.knownBlobId(blobId) && this.#index.latest(blobId) === null) {
      throw new POSKeyError(`no blob ${toHex(blobId)} in this blob store`, blobId);
    }
    const state = this.#activeTxn(txn);
    return state.queue.run(async () => {
      this.#assertActive(txn, state);
      const previous = state.drafts.get(blobId);
      if (previous !== undefined) {
        state.drafts.delete(blobId);
        await previous.draft.discard();
      }
      const dir = this.#layout.draftDir(state.seq, blobId);
      let draft: ChunkedDraft;
      if (base === null) {
        draft = await ChunkedDraft.create(this.#draftEnv, blobId, dir, null);
      } else {
        const baseState = await this.#revision(blobId, base);
        this.#index.addReader(baseState);
        try {
          const baseDir = this.#layout.revisionDir(blobId, base);
          const holes = await this.#holesOf(blobId, base, baseDir);
          draft = await ChunkedDraft.create(this.#draftEnv, blobId, dir, { dir: baseDir, size: baseState.size, holes });
        } finally {
          await this.#dropReader(baseState);
        }
      }
      state.drafts.set(blobId, { draft, oid });
      return draft;
    });
  }

  /** Counts one record reference per entry when `txn` commits. */
  async addReferences(txn: BlobTransaction, refs: readonly BlobRef[]): Promise<void> {
    this.#assertWritable();
    const ours = this.#ownRefs(refs);
    if (ours.length === 0) return;
    const state = this.#activeTxn(txn);
    this.#assertActive(txn, state);
    for (const key of ours) {
      state.refs.push(key);
      const target = this.#index.get(key.blobId, key.revision);
      if (target === undefined) continue;
      this.#index.pin(target);
      state.livePins.push(target);
    }
  }

  /** Makes `txn`'s drafts durable as revision `revision` of their blobs, not yet visible. */
  async prepare(txn: BlobTransaction, revision: Tid, witness?: Oid): Promise<void> {
    this.#assertWritable();
    assertU64(revision, 'revision');
    if (witness !== undefined) assertU64(witness, 'witness');
    const state = this.#txns.get(txn);
    if (state === undefined) {
      if (this.#finished.has(txn)) throw new TransactionClosedError(`blob transaction ${txn.label} has ended`);
      return;
    }
    await state.queue.run(async () => {
      if (state.phase !== 'active') throw new StorageTransactionError(`blob transaction ${txn.label} is ${state.phase}, not active`);
      for (const blobId of state.drafts.keys()) {
        if (this.#index.taken(blobId, revision)) {
          throw new StorageTransactionError(`blob ${toHex(blobId)} already has revision ${toHex(revision)}`);
        }
      }
      state.phase = 'preparing';
      try {
        const drafts: PreparedDraft[] = [];
        for (const [blobId, { draft, oid }] of state.drafts) drafts.push({ blobId, oid, size: await draft.prepare() });
        // The drafts' own directory entries in tmp/ must be durable too.
        if (drafts.length > 0 && this.#syncMode !== 'none') await this.#syncTmp();
        if (drafts.length > 0 || state.refs.length > 0) {
          const record: JournalRecord = {
            type: 'prepare',
            txnSeq: state.seq,
            revision,
            drafts,
            refs: [...state.refs],
            ...(witness !== undefined ? { witness } : {}),
          };
          await this.#log([record], this.#syncMode !== 'none');
          this.#index.apply(record);
        }
      } catch (error) {
        state.phase = 'failed';
        throw ioError(`preparing blob transaction ${txn.label}`, error);
      }
      for (const pinned of state.livePins) this.#index.unpin(pinned);
      state.livePins = [];
      state.revision = revision;
      state.phase = 'prepared';
    });
  }

  /** Publishes a prepared `txn`: its revisions become readable and its references count. */
  async commit(txn: BlobTransaction): Promise<void> {
    this.#assertWritable();
    const state = this.#txns.get(txn);
    if (state === undefined) {
      if (this.#finished.has(txn)) throw new TransactionClosedError(`blob transaction ${txn.label} has ended`);
      return;
    }
    state.commitCalled = true;
    await state.queue.run(async () => {
      const empty = state.drafts.size === 0 && state.refs.length === 0;
      if (empty && (state.phase === 'active' || state.phase === 'prepared')) {
        this.#finish(txn);
        return;
      }
      if (state.phase !== 'prepared' || state.revision === null) {
        throw new StorageTransactionError(`blob transaction ${txn.label} is ${state.phase}: prepare it before commit`);
      }
      state.phase = 'committing';
      const drafts = [...state.drafts.values()].map(({ draft }) => ({ blobId: draft.blobId, dir: draft.dir }));
      try {
        await this.#files.publish(drafts, state.revision, this.#syncMode === 'always');
        await this.#log([{ type: 'commit', txnSeq: state.seq }], this.#syncMode === 'always');
      } catch (error) {
        state.phase = 'undecided';
        const failure = ioError(`committing blob transaction ${txn.label}`, error);
        this.#fatal(failure);
        throw failure;
      }
      this.#index.apply({ type: 'commit', txnSeq: state.seq });
      for (const { draft } of state.drafts.values()) draft.markCommitted();
      this.#finish(txn);
    });
  }

  /** Discards `txn`'s drafts (prepared or not). Never throws; unknown transactions are ignored. */
  async rollback(txn: BlobTransaction): Promise<void> {
    const state = this.#txns.get(txn);
    if (state === undefined) return;
    this.#finish(txn);
    await state.queue
      .run(async () => {
        for (const pinned of state.livePins) this.#index.unpin(pinned);
        state.livePins = [];
        if (state.phase === 'undecided') {
          // The commit failed half-way: the storage may have committed, so the prepared data
          // stays on disk, pending, for `recover` after a reopen.
          for (const { draft } of state.drafts.values()) draft.markCommitted();
          return;
        }
        for (const { draft } of state.drafts.values()) await draft.discard();
        if (this.#index.preparedTxn(state.seq) !== undefined) {
          const record: JournalRecord = { type: 'abort', txnSeq: state.seq };
          this.#index.apply(record);
          if (this.#failed === null && !this.#closed) await this.#log([record], false);
        }
      })
      .catch((error: unknown) => this.#logger.warn({ err: error, txn: txn.label }, 'blob rollback left files behind'));
  }

  /** Drops one record reference per entry, at once. Unknown revisions are ignored. */
  async releaseReferences(refs: readonly BlobRef[]): Promise<void> {
    this.#assertWritable();
    const known = this.#ownRefs(refs).filter((key) => this.#index.get(key.blobId, key.revision) !== undefined);
    if (known.length === 0) return;
    const record: JournalRecord = { type: 'release', refs: known };
    await this.#log([record], this.#syncMode === 'always');
    this.#index.apply(record);
  }

  /** Record references plus open readers of a revision; 0 when it does not exist. */
  async refcount(blobId: BlobId, revision: Tid): Promise<number> {
    this.#assertOpen();
    assertU64(blobId, 'blobId');
    assertU64(revision, 'revision');
    const state = this.#index.get(blobId, revision);
    return state === undefined ? 0 : state.refs + state.readers;
  }

  /** Removes every committed revision with no record reference and no open reader; returns how many and their sizes. */
  async reclaim(): Promise<ReclaimResult> {
    this.#assertWritable();
    let removed = 0;
    let bytes = 0;
    for (const state of this.#index.idle()) {
      if (!this.#index.isIdle(state)) continue;
      if (await this.#delete(state)) {
        removed += 1;
        bytes += state.size;
      }
    }
    return { revisions: removed, bytes };
  }

  /** After a crash between prepare and commit: commits or discards each prepared revision. */
  async recover(
    isCommitted: (pending: PendingRevision) => Promise<boolean>,
    hasCommitted?: (pending: PendingReferences) => Promise<boolean>,
  ): Promise<void> {
    // read-only (inspection): undecided transactions stay invisible; the writer's next open decides them
    if (this.#readOnly) return this.#assertOpen();
    this.#assertWritable();
    const live = new Set([...this.#txns.values()].map((t) => t.seq));
    for (const txn of this.#index.prepared()) {
      if (live.has(txn.txnSeq)) continue;
      // References only: decided by the witness record; without one, published (a leak, never a loss).
      let committed = txn.drafts.length === 0;
      if (committed && txn.witness !== undefined && hasCommitted !== undefined) {
        committed = await hasCommitted({ tid: txn.revision, witness: txn.witness });
      }
      for (const d of txn.drafts) {
        if (await isCommitted({ blobId: d.blobId, revision: txn.revision, oid: d.oid })) committed = true;
      }
      try {
        await resolvePrepared(this.#recoveryEnv(), txn, committed);
      } catch (error) {
        const failure = ioError('recovering a prepared blob transaction', error);
        this.#fatal(failure);
        throw failure;
      }
    }
  }

  /** Closes the handlerton: rolls back open transactions, releases files. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const [txn, state] of [...this.#txns]) {
      // Prepared, never committed: the storage's finish may have failed after its records reached the
      // disk. Only recover() at the next open may decide, so the prepared data stays (rollback keeps it).
      if (state.phase === 'prepared') state.phase = 'undecided';
      await this.rollback(txn);
    }
    this.#closed = true;
    for (const reader of [...this.#readers]) await reader.close();
    await this.#journal.close().catch((error: unknown) => this.#logger.warn({ err: error }, 'closing the blob journal failed'));
    await this.#releaseLock();
  }

  #recoveryEnv(): RecoveryEnvironment {
    return {
      ops: this.#ops,
      layout: this.#layout,
      files: this.#files,
      index: this.#index,
      logger: this.#logger,
      sync: this.#syncMode !== 'none',
      log: (records, sync) => this.#log(records, sync),
    };
  }

  /** Removes an unreferenced revision's files, then journals it; false when that failed (retried later). */
  async #delete(state: RevisionState): Promise<boolean> {
    this.#index.forget(state);
    try {
      await this.#files.remove(state.blobId, state.revision);
      if (this.#failed === null && !this.#closed) {
        await this.#log([{ type: 'delete', blobId: state.blobId, revision: state.revision }], false);
      }
      return true;
    } catch (error) {
      this.#logger.warn({ err: error, blobId: String(state.blobId), revision: String(state.revision) }, 'could not remove blob revision');
      return false;
    }
  }

  /**
   * Journals that ids below `upTo` may be in use, durably: a storage may record a blob id before
   * any revision of it exists, and a reopen must never hand that id out again.
   */
  async #reserve(upTo: BlobId): Promise<void> {
    const record: JournalRecord = { type: 'reserve', nextBlobId: upTo };
    await this.#log([record], this.#syncMode !== 'none');
    this.#index.apply(record);
  }

  /** fsync of tmp/; a failure is fail-stop. */
  async #syncTmp(): Promise<void> {
    try {
      await this.#ops.fsyncDir(this.#layout.tmp);
    } catch (error) {
      const failure = ioError(`fsync of ${this.#layout.tmp} failed`, error);
      this.#fatal(failure);
      throw failure;
    }
  }

  /** The holes of a revision; POSKeyError when its directory is gone. */
  async #holesOf(blobId: BlobId, revision: Tid, dir: string): Promise<HoleSet> {
    try {
      const holes = await readHoles(this.#ops, dir);
      if (holes.empty && !(await this.#ops.exists(dir))) {
        throw new POSKeyError(`blob ${toHex(blobId)} revision ${toHex(revision)} has no files`, blobId);
      }
      return holes;
    } catch (error) {
      throw isHandlertonError(error) ? error : ioError(`reading the holes of blob ${toHex(blobId)} revision ${toHex(revision)}`, error);
    }
  }

  /** Drops a reader; an unreferenced revision then waits for the next `reclaim()`. */
  async #dropReader(state: RevisionState): Promise<void> {
    this.#index.removeReader(state);
  }

  /**
   * A committed revision. One whose transaction is committing is waited for: the storage makes
   * its record visible before `commit` has published it. A prepared revision stays invisible.
   */
  async #revision(blobId: BlobId, revision: Tid): Promise<RevisionState> {
    for (;;) {
      const state = this.#index.get(blobId, revision);
      if (state !== undefined) return state;
      const publishing = [...this.#txns.values()].find(
        (t) => t.commitCalled && t.revision === revision && t.drafts.has(blobId),
      );
      if (publishing === undefined) {
        // Files are removed before the journal says `delete`, and published after it says `prepare`:
        // files the journal does not know mean the journal lost records.
        if (await this.#ops.exists(this.#layout.revisionDir(blobId, revision))) {
          // Its records are missing from where the journal now ends (a damaged tail is cut there at open).
          const end = await this.#journalSize();
          throw new CorruptionError(
            `blob ${toHex(blobId)} revision ${toHex(revision)} has files but the refcount journal, which ends at offset ${end}, has no record of it (the journal is damaged or truncated)`,
            this.#layout.journal,
            end,
          );
        }
        throw new POSKeyError(`no revision ${toHex(revision)} of blob ${toHex(blobId)}`, blobId);
      }
      await publishing.settled;
      this.#assertOpen();
    }
  }

  /** The refcount journal's current size. */
  async #journalSize(): Promise<number> {
    const fd = await this.#ops.open(this.#layout.journal, 'r');
    try {
      return await this.#ops.fsize(fd);
    } finally {
      await this.#ops.close(fd);
    }
  }

  #ownRefs(refs: readonly BlobRef[]): RevisionKey[] {
    const out: RevisionKey[] = [];
    for (const ref of refs) {
      if (ref.handlerton !== this.name) continue;
      assertU64(ref.blobId, 'blobRef.blobId');
      assertU64(ref.revision, 'blobRef.revision');
      out.push({ blobId: ref.blobId, revision: ref.revision });
    }
    return out;
  }

  #activeTxn(txn: BlobTransaction): TxnState {
    let state = this.#txns.get(txn);
    if (state === undefined) {
      if (this.#finished.has(txn)) throw new TransactionClosedError(`blob transaction ${txn.label} has ended`);
      state = createTxnState(this.#index.allocateTxnSeq());
      this.#txns.set(txn, state);
    }
    return state;
  }

  #assertActive(txn: BlobTransaction, state: TxnState): void {
    if (this.#txns.get(txn) !== state) throw new TransactionClosedError(`blob transaction ${txn.label} has ended`);
    if (state.phase !== 'active') {
      throw new StorageTransactionError(`blob transaction ${txn.label} is ${state.phase}: drafts and references can no longer change`);
    }
  }

  #finish(txn: BlobTransaction): void {
    const state = this.#txns.get(txn);
    this.#txns.delete(txn);
    this.#finished.add(txn);
    state?.settle();
  }

  /** Appends journal records; any failure is fail-stop (the journal's tail is no longer known). */
  async #log(records: JournalRecord[], sync: boolean): Promise<void> {
    try {
      await this.#journal.append(records, sync);
    } catch (error) {
      const failure = ioError('writing the blob refcount journal', error);
      this.#fatal(failure);
      throw failure;
    }
  }

  #fatal(error: StorageIOError): void {
    if (this.#failed !== null) return;
    this.#failed = error;
    this.#logger.error({ err: error }, 'blob store stopped accepting writes after an I/O failure');
  }

  #assertOpen(): void {
    if (this.#closed) throw new StorageClosedError('the filestorage2 blob store is closed');
  }

  #assertWritable(): void {
    this.#assertOpen();
    if (this.#readOnly) throw new ReadOnlyError('the filestorage2 blob store is open read-only');
    if (this.#failed !== null) {
      throw new StorageIOError(`the filestorage2 blob store stopped after an I/O failure: ${this.#failed.message}`, {
        cause: this.#failed,
      });
    }
  }
}
