/**
 * A blob handlerton that keeps blobs in memory: the reference blob engine.
 *
 * It is an example of the whole BlobHandlerton contract (drafts private to a blob transaction,
 * prepare/commit/rollback, revisions kept alive by record references and open readers) with
 * nothing else in the way. Blob bytes live in fixed-size chunks; a draft shares its base
 * revision's chunks and copies one only when it first writes to it, so changing 4 KiB of a
 * large blob costs one chunk.
 *
 * It is naive: there is no durability (prepare only seals the drafts), no locking beyond the
 * event loop, and `reclaim` walks every revision. The transactional mode is only declared; the
 * framework's coordinator is what makes the three modes behave differently.
 */
import {
  assertU64,
  blobCapabilities,
  blobRefsOf,
  HandleClosedError,
  InvalidArgumentError,
  POSKeyError,
  StorageClosedError,
  StorageTransactionError,
  toHex,
} from '@handlerton/framework';
import type {
  BlobCapabilities,
  BlobDraft,
  BlobHandlerton,
  BlobId,
  BlobRef,
  BlobTransaction,
  BlobTransactionMode,
  EngineStats,
  ReclaimResult,
  Oid,
  RevisionReader,
  Tid,
} from '@handlerton/framework';
import { MemoryDraft, readContent } from './memory-draft.js';
import type { Content } from './memory-draft.js';

/** A committed revision and what keeps it alive. */
interface Revision extends Content {
  recordRefs: number;
  readers: number;
  /** References from prepared, not yet committed transactions (they keep it from being reclaimed). */
  pins: number;
}

/** One blob transaction's drafts and references. */
interface TxnState {
  readonly drafts: Map<BlobId, MemoryDraft>;
  readonly refs: BlobRef[];
  prepared: { readonly tid: Tid; readonly revisions: Map<BlobId, Revision>; readonly targets: Revision[] } | null;
}

/** Options of a MemoryBlobHandlerton. */
export interface MemoryBlobOptions {
  /** Bytes per chunk (default 64 KiB). */
  readonly chunkSize?: number;
  /** The declared transactional mode (default 'dataTransactional'). */
  readonly mode?: BlobTransactionMode;
}

/** What a MemoryBlobHandlerton holds, for memory accounting in tests. */
export interface MemoryBlobStats {
  readonly revisions: number;
  /** Distinct chunk buffers held by revisions and open drafts. */
  readonly chunks: number;
  readonly bytes: number;
}

/** The default chunk size: 64 KiB. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
const RECLAIM_BATCH = 1000;

/** A non-durable BlobHandlerton held in memory, with copy-on-write chunks. */
export class MemoryBlobHandlerton implements BlobHandlerton {
  /** The capability manifest of a MemoryBlobHandlerton running in `mode`. */
  static capabilitiesFor(mode: BlobTransactionMode): BlobCapabilities {
    return blobCapabilities({ mode, seek: true, truncate: true, append: true, refcount: true, partialUpdate: true });
  }

  readonly name = 'memory';
  readonly capabilities: BlobCapabilities;
  /** Bytes per chunk: the unit of sharing between a revision and the drafts based on it. */
  readonly chunkSize: number;

  #blobs = new Map<BlobId, Map<Tid, Revision>>();
  #txns = new Map<BlobTransaction, TxnState>();
  #lastBlobId: BlobId = 0n;
  #closed = false;

  constructor(options: MemoryBlobOptions = {}) {
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isSafeInteger(this.chunkSize) || this.chunkSize < 1) {
      throw new InvalidArgumentError(`chunkSize must be a positive integer, got ${String(options.chunkSize)}`);
    }
    this.capabilities = MemoryBlobHandlerton.capabilitiesFor(options.mode ?? 'dataTransactional');
  }

  async createBlob(): Promise<BlobId> {
    this.#checkOpen();
    this.#lastBlobId += 1n;
    return this.#lastBlobId;
  }

  async openRevision(blobId: BlobId, revision: Tid): Promise<RevisionReader> {
    const found = this.#revision(blobId, revision);
    if (found === undefined) throw new POSKeyError(`blob ${toHex(blobId)} has no revision ${toHex(revision)}`, blobId);
    found.readers += 1;
    let closed = false;
    return {
      size: found.size,
      read: async (target, position) => {
        if (closed) throw new HandleClosedError(`reader of blob ${toHex(blobId)} is closed`);
        this.#checkOpen();
        return readContent(found, this.chunkSize, target, position);
      },
      close: async () => {
        if (closed) return;
        closed = true;
        found.readers -= 1;
        if (!this.#closed && isGarbage(found) && this.#blobs.get(blobId)?.get(revision) === found) this.#remove(blobId, revision);
      },
    };
  }

  async latestRevision(blobId: BlobId): Promise<Tid | null> {
    this.#checkOpen();
    assertU64(blobId, 'blobId');
    let latest: Tid | null = null;
    for (const tid of this.#blobs.get(blobId)?.keys() ?? []) if (latest === null || tid > latest) latest = tid;
    return latest;
  }

  async createDraft(txn: BlobTransaction, blobId: BlobId, oid: Oid, base: Tid | null): Promise<BlobDraft> {
    const state = this.#unprepared(txn);
    assertU64(blobId, 'blobId');
    assertU64(oid, 'oid');
    const baseRevision = base === null ? null : this.#revision(blobId, base);
    if (baseRevision === undefined) throw new POSKeyError(`blob ${toHex(blobId)} has no revision ${toHex(base!)}`, blobId);
    if (blobId > this.#lastBlobId) this.#lastBlobId = blobId;
    state.drafts.get(blobId)?.discard();
    const draft = new MemoryDraft(blobId, this.chunkSize, baseRevision);
    state.drafts.set(blobId, draft);
    return draft;
  }

  async addReferences(txn: BlobTransaction, refs: readonly BlobRef[]): Promise<void> {
    const state = this.#unprepared(txn);
    const ours = blobRefsOf(this.name, refs);
    state.refs.push(...ours);
  }

  async prepare(txn: BlobTransaction, revision: Tid): Promise<void> {
    const state = this.#unprepared(txn);
    assertU64(revision, 'revision');
    for (const blobId of state.drafts.keys()) {
      if (this.#blobs.get(blobId)?.has(revision)) {
        throw new InvalidArgumentError(`blob ${toHex(blobId)} already has a revision ${toHex(revision)}`);
      }
    }
    for (const ref of state.refs) {
      const staged = ref.revision === revision && state.drafts.has(ref.blobId);
      if (!staged && this.#revision(ref.blobId, ref.revision) === undefined) {
        throw new POSKeyError(`a record references blob ${toHex(ref.blobId)} revision ${toHex(ref.revision)}, which does not exist`, ref.blobId);
      }
    }
    const revisions = new Map<BlobId, Revision>();
    for (const [blobId, draft] of state.drafts) revisions.set(blobId, { ...draft.seal(), recordRefs: 0, readers: 0, pins: 0 });
    const targets = state.refs.map((ref) => {
      const target = (ref.revision === revision ? revisions.get(ref.blobId) : undefined) ?? this.#revision(ref.blobId, ref.revision)!;
      target.pins += 1;
      return target;
    });
    state.prepared = { tid: revision, revisions, targets };
  }

  async commit(txn: BlobTransaction): Promise<void> {
    this.#checkOpen();
    const state = this.#txns.get(txn);
    if (state === undefined) return;
    if (state.prepared === null) throw new StorageTransactionError(`blob transaction ${txn.label} was not prepared`);
    const { tid, revisions, targets } = state.prepared;
    for (const [blobId, revision] of revisions) {
      const known = this.#blobs.get(blobId) ?? new Map<Tid, Revision>();
      this.#blobs.set(blobId, known.set(tid, revision));
    }
    for (const target of targets) {
      target.pins -= 1;
      target.recordRefs += 1;
    }
    this.#txns.delete(txn);
  }

  async rollback(txn: BlobTransaction): Promise<void> {
    const state = this.#txns.get(txn);
    if (state === undefined) return;
    this.#txns.delete(txn);
    for (const draft of state.drafts.values()) draft.discard();
    for (const target of state.prepared?.targets ?? []) target.pins -= 1;
  }

  async releaseReferences(refs: readonly BlobRef[]): Promise<void> {
    this.#checkOpen();
    for (const ref of blobRefsOf(this.name, refs)) {
      const found = this.#revision(ref.blobId, ref.revision);
      if (found !== undefined && found.recordRefs > 0) found.recordRefs -= 1;
    }
  }

  async refcount(blobId: BlobId, revision: Tid): Promise<number> {
    const found = this.#revision(blobId, revision);
    return found === undefined ? 0 : found.recordRefs + found.readers;
  }

  async reclaim(): Promise<ReclaimResult> {
    this.#checkOpen();
    let removed = 0;
    let bytes = 0;
    let seen = 0;
    for (const [blobId, revisions] of [...this.#blobs]) {
      if (++seen % RECLAIM_BATCH === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.#checkOpen();
      }
      for (const [tid, revision] of [...revisions]) {
        if (isGarbage(revision)) {
          this.#remove(blobId, tid);
          removed += 1;
          bytes += revision.size;
        }
      }
    }
    return { revisions: removed, bytes };
  }

  /** The figures of `usage()` for `handlerton stats`. */
  async stats(): Promise<EngineStats> {
    return { ...this.usage() };
  }

  /** Counts revisions and the distinct chunk buffers (and their bytes) held by revisions and drafts. */
  usage(): MemoryBlobStats {
    const buffers = new Set<ArrayBufferLike>();
    let revisionCount = 0;
    for (const revisions of this.#blobs.values()) {
      for (const revision of revisions.values()) {
        revisionCount += 1;
        for (const chunk of revision.chunks.values()) buffers.add(chunk.buffer);
      }
    }
    for (const state of this.#txns.values()) {
      for (const draft of state.drafts.values()) for (const chunk of draft.ownedChunks()) buffers.add(chunk.buffer);
      for (const revision of state.prepared?.revisions.values() ?? []) {
        for (const chunk of revision.chunks.values()) buffers.add(chunk.buffer);
      }
    }
    let bytes = 0;
    for (const buffer of buffers) bytes += buffer.byteLength;
    return { revisions: revisionCount, chunks: buffers.size, bytes };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    for (const txn of [...this.#txns.keys()]) await this.rollback(txn);
    this.#closed = true;
    this.#blobs = new Map();
  }

  /** The committed revision, or undefined. */
  #revision(blobId: BlobId, revision: Tid): Revision | undefined {
    this.#checkOpen();
    assertU64(blobId, 'blobId');
    assertU64(revision, 'revision');
    return this.#blobs.get(blobId)?.get(revision);
  }

  #remove(blobId: BlobId, revision: Tid): void {
    const revisions = this.#blobs.get(blobId);
    revisions?.delete(revision);
    if (revisions?.size === 0) this.#blobs.delete(blobId);
  }

  /** The state of `txn` (created on first use); StorageTransactionError once it is prepared. */
  #unprepared(txn: BlobTransaction): TxnState {
    this.#checkOpen();
    if (typeof txn !== 'object' || txn === null) throw new InvalidArgumentError('a blob transaction object is required');
    let state = this.#txns.get(txn);
    if (state === undefined) {
      state = { drafts: new Map(), refs: [], prepared: null };
      this.#txns.set(txn, state);
    }
    if (state.prepared !== null) throw new StorageTransactionError(`blob transaction ${txn.label} is already prepared`);
    return state;
  }


  #checkOpen(): void {
    if (this.#closed) throw new StorageClosedError('the memory blob handlerton is closed');
  }
}

/** True when nothing references the revision any more. */
function isGarbage(revision: Revision): boolean {
  return revision.recordRefs === 0 && revision.readers === 0 && revision.pins === 0;
}
