/** The handlerton's bookkeeping for one blob transaction. */
import type { BlobId, Oid, Tid } from '@handlerton/framework';
import type { RevisionState } from './blob-index.js';
import type { ChunkedDraft } from './draft.js';
import type { RevisionKey } from './journal-codec.js';
import { SerialQueue } from './serial-queue.js';

/** 'failed': prepare failed (drafts may go); 'undecided': commit failed (prepared data stays for recover). */
export type TxnPhase = 'active' | 'preparing' | 'prepared' | 'committing' | 'failed' | 'undecided';

/** One blob transaction: drafts, references to add, phase. */
export interface TxnState {
  readonly seq: bigint;
  readonly queue: SerialQueue;
  readonly drafts: Map<BlobId, { draft: ChunkedDraft; oid: Oid }>;
  readonly refs: RevisionKey[];
  /** Revisions pinned by addReferences until the prepare record pins them. */
  livePins: RevisionState[];
  phase: TxnPhase;
  revision: Tid | null;
  /** Set as soon as `commit` is called (before its first await). */
  commitCalled: boolean;
  /** Resolves when the transaction has committed or rolled back. */
  readonly settled: Promise<void>;
  readonly settle: () => void;
}

/** A new, active transaction with local sequence number `seq`. */
export function createTxnState(seq: bigint): TxnState {
  let settle = (): void => undefined;
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  return {
    seq,
    queue: new SerialQueue(),
    drafts: new Map(),
    refs: [],
    livePins: [],
    phase: 'active',
    revision: null,
    commitCalled: false,
    settled,
    settle,
  };
}
