/** The in-progress state of the storage transaction holding the commit lock. */
import type { StorageTransaction } from '@handlerton/framework';
import type { OidKey } from './oid-key.js';
import type { PublishedRecord } from './active-segment.js';
import type { MetaBytes } from './txn-format.js';

/** One pending write of the transaction. */
export interface PendingWrite {
  readonly oid: bigint;
  readonly deleted: boolean;
  readonly refs: Uint8Array;
  readonly data: Uint8Array;
}

/** The encoded transaction, placed in the active segment by the vote. */
export interface VotedTxn {
  readonly bytes: Buffer;
  readonly pos: number;
  readonly records: PublishedRecord[];
}

/** State of the active storage transaction. */
export interface TxnState {
  readonly txn: StorageTransaction;
  readonly tid: bigint;
  readonly meta: MetaBytes;
  readonly writes: Map<OidKey, PendingWrite>;
  voted: VotedTxn | null;
}

/** A finished transaction waiting for its write and fdatasync. */
export interface QueuedTxn {
  readonly tid: bigint;
  readonly voted: VotedTxn;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}
