/**
 * The in-memory state of a blob directory: committed revisions with their reference counts,
 * prepared transactions, the blob id counter. It changes only by applying journal records, the
 * same way at replay and at run time, so that a reopen rebuilds exactly what was live.
 */
import type { BlobId, Oid, Tid } from '@handlerton/framework';
import type { JournalRecord, PreparedDraft, RevisionKey } from './journal-codec.js';

/** One committed revision. */
export interface RevisionState {
  readonly blobId: BlobId;
  readonly revision: Tid;
  readonly size: number;
  /** Record references (journaled). */
  refs: number;
  /** Open readers and drafts being based on it (in memory only). */
  readers: number;
  /** Prepared, not yet committed transactions that will add a reference (in memory only). */
  pins: number;
}

/** A prepared transaction, live or found at open. */
export interface PreparedTxn {
  readonly txnSeq: bigint;
  readonly revision: Tid;
  readonly drafts: readonly PreparedDraft[];
  readonly refs: readonly RevisionKey[];
  /** An oid the storage transaction stored, when prepare was given one. */
  readonly witness?: Oid;
  /** The revisions pinned at prepare (those that existed then). */
  readonly pinned: RevisionState[];
}

/** The state machine the journal drives. */
export class BlobIndex {
  readonly #revisions = new Map<BlobId, Map<Tid, RevisionState>>();
  readonly #idle = new Set<RevisionState>();
  readonly #prepared = new Map<bigint, PreparedTxn>();
  /** Transactions committed in the journal read at open (to finish their renames). */
  readonly replayedCommits = new Map<bigint, PreparedTxn>();
  /** True while the journal is replayed at open (commits are then remembered in replayedCommits). */
  replaying = false;
  #nextBlobId: BlobId = 1n;
  #reservedBlobId: BlobId = 1n;
  #nextTxnSeq = 1n;
  #revisionCount = 0;

  /** Applies one journal record. */
  apply(record: JournalRecord): void {
    switch (record.type) {
      case 'reserve':
        if (record.nextBlobId > this.#reservedBlobId) this.#reservedBlobId = record.nextBlobId;
        return;
      case 'prepare': {
        const pinned: RevisionState[] = [];
        for (const key of record.refs) {
          const state = this.get(key.blobId, key.revision);
          if (state === undefined) continue;
          state.pins += 1;
          pinned.push(state);
          this.#touch(state);
        }
        for (const d of record.drafts) this.#sawBlobId(d.blobId);
        if (record.txnSeq >= this.#nextTxnSeq) this.#nextTxnSeq = record.txnSeq + 1n;
        this.#prepared.set(record.txnSeq, { ...record, pinned });
        return;
      }
      case 'commit': {
        const txn = this.#prepared.get(record.txnSeq);
        if (txn === undefined) return;
        this.#prepared.delete(record.txnSeq);
        for (const d of txn.drafts) this.#addRevision(d.blobId, txn.revision, d.size, 0);
        for (const state of txn.pinned) {
          state.pins -= 1;
          this.#touch(state);
        }
        for (const key of txn.refs) {
          const state = this.get(key.blobId, key.revision);
          if (state === undefined) continue;
          state.refs += 1;
          this.#touch(state);
        }
        if (this.replaying) this.replayedCommits.set(txn.txnSeq, txn);
        return;
      }
      case 'abort': {
        const txn = this.#prepared.get(record.txnSeq);
        if (txn === undefined) return;
        this.#prepared.delete(record.txnSeq);
        for (const state of txn.pinned) {
          state.pins -= 1;
          this.#touch(state);
        }
        return;
      }
      case 'release':
        for (const key of record.refs) {
          const state = this.get(key.blobId, key.revision);
          if (state === undefined || state.refs === 0) continue;
          state.refs -= 1;
          this.#touch(state);
        }
        return;
      case 'delete':
        this.#removeRevision(record.blobId, record.revision);
        return;
      case 'revision':
        this.#addRevision(record.blobId, record.revision, record.size, record.refs);
        return;
    }
  }

  /** A committed revision, or undefined. */
  get(blobId: BlobId, revision: Tid): RevisionState | undefined {
    return this.#revisions.get(blobId)?.get(revision);
  }

  /** The newest committed revision of `blobId`, or null. */
  latest(blobId: BlobId): Tid | null {
    const revs = this.#revisions.get(blobId);
    if (revs === undefined) return null;
    let best: Tid | null = null;
    for (const tid of revs.keys()) if (best === null || tid > best) best = tid;
    return best;
  }

  /** True when a revision (blobId, revision) is committed or prepared. */
  taken(blobId: BlobId, revision: Tid): boolean {
    if (this.get(blobId, revision) !== undefined) return true;
    for (const txn of this.#prepared.values()) {
      if (txn.revision === revision && txn.drafts.some((d) => d.blobId === blobId)) return true;
    }
    return false;
  }

  /** Counts an open reader (or a draft copying from the revision). */
  addReader(state: RevisionState): void {
    state.readers += 1;
    this.#touch(state);
  }

  /** Keeps a revision from being reclaimed until `unpin` (a reference that will be added). */
  pin(state: RevisionState): void {
    state.pins += 1;
    this.#touch(state);
  }

  /** Undoes one `pin`. */
  unpin(state: RevisionState): void {
    state.pins -= 1;
    this.#touch(state);
  }

  /** Drops an open reader; true when the revision became unreferenced. */
  removeReader(state: RevisionState): boolean {
    state.readers -= 1;
    this.#touch(state);
    return this.#idle.has(state);
  }

  /** Revisions with no record reference, reader or pin. */
  idle(): RevisionState[] {
    return [...this.#idle];
  }

  /** True when `state` is still the live, unreferenced revision. */
  isIdle(state: RevisionState): boolean {
    return this.#idle.has(state);
  }

  /** Forgets a revision (its files are gone). */
  forget(state: RevisionState): void {
    this.#removeRevision(state.blobId, state.revision);
  }

  /** Prepared transactions (live and recovered). */
  prepared(): PreparedTxn[] {
    return [...this.#prepared.values()];
  }

  /** One prepared transaction. */
  preparedTxn(txnSeq: bigint): PreparedTxn | undefined {
    return this.#prepared.get(txnSeq);
  }

  /** Ends a replay: ids below the last reservation may have been handed out, so none of them is reused. */
  finishReplay(): void {
    this.replaying = false;
    if (this.#reservedBlobId > this.#nextBlobId) this.#nextBlobId = this.#reservedBlobId;
  }

  /** Hands out the next blob id (the caller makes sure it is below a durable reservation). */
  allocateBlobId(): BlobId {
    const blobId = this.#nextBlobId;
    this.#nextBlobId += 1n;
    return blobId;
  }

  /** Ids below this bound are covered by a journaled reservation. */
  get reservedBlobId(): BlobId {
    return this.#reservedBlobId;
  }

  /** True when `blobId` has been handed out (now or before a reopen). */
  knownBlobId(blobId: BlobId): boolean {
    return blobId >= 1n && blobId < this.#nextBlobId;
  }

  /** Allocates a local transaction sequence number. */
  allocateTxnSeq(): bigint {
    const seq = this.#nextTxnSeq;
    this.#nextTxnSeq += 1n;
    return seq;
  }

  /** Number of committed revisions. */
  get revisionCount(): number {
    return this.#revisionCount;
  }

  /** The records that rebuild this state from nothing (for journal compaction). */
  *snapshot(): Generator<JournalRecord> {
    yield { type: 'reserve', nextBlobId: this.#reservedBlobId > this.#nextBlobId ? this.#reservedBlobId : this.#nextBlobId };
    for (const revs of this.#revisions.values()) {
      for (const s of revs.values()) {
        yield { type: 'revision', blobId: s.blobId, revision: s.revision, size: s.size, refs: s.refs };
      }
    }
    for (const txn of this.#prepared.values()) {
      yield {
        type: 'prepare',
        txnSeq: txn.txnSeq,
        revision: txn.revision,
        drafts: txn.drafts,
        refs: txn.refs,
        ...(txn.witness !== undefined ? { witness: txn.witness } : {}),
      };
    }
  }

  #sawBlobId(blobId: BlobId): void {
    if (blobId >= this.#nextBlobId) this.#nextBlobId = blobId + 1n;
  }

  #addRevision(blobId: BlobId, revision: Tid, size: number, refs: number): void {
    this.#sawBlobId(blobId);
    let revs = this.#revisions.get(blobId);
    if (revs === undefined) {
      revs = new Map();
      this.#revisions.set(blobId, revs);
    }
    const existing = revs.get(revision);
    if (existing !== undefined) {
      existing.refs += refs;
      this.#touch(existing);
      return;
    }
    const state: RevisionState = { blobId, revision, size, refs, readers: 0, pins: 0 };
    revs.set(revision, state);
    this.#revisionCount += 1;
    this.#touch(state);
  }

  #removeRevision(blobId: BlobId, revision: Tid): void {
    const revs = this.#revisions.get(blobId);
    const state = revs?.get(revision);
    if (revs === undefined || state === undefined) return;
    revs.delete(revision);
    if (revs.size === 0) this.#revisions.delete(blobId);
    this.#idle.delete(state);
    this.#revisionCount -= 1;
  }

  #touch(state: RevisionState): void {
    if (this.get(state.blobId, state.revision) !== state) return;
    if (state.refs === 0 && state.readers === 0 && state.pins === 0) this.#idle.add(state);
    else this.#idle.delete(state);
  }
}
