/** The in-progress state of the storage transaction holding the commit lock. */
import type { OidKey, StorageTransaction } from '@handlerton/framework';
import type { PendingWrite, TxnBuilder } from './txn-builder.js';

/** The encoded transaction, placed in the active segment at tpcBegin and completed by the vote. */
export interface VotedTxn {
  readonly bytes: Buffer;
  readonly pos: number;
  readonly records: PendingWrite[];
  /** Owns the buffer behind `bytes` (given back to the pool once written). */
  readonly builder: TxnBuilder;
}

/** State of the active storage transaction. */
export interface TxnState {
  readonly txn: StorageTransaction;
  readonly tid: bigint;
  /**
   * The live write of each oid stored so far; null while every store was of a never-written oid
   * (then no oid can have been stored twice, and the map is built on first need).
   */
  writes: Map<OidKey, PendingWrite> | null;
  readonly builder: TxnBuilder;
  voted: VotedTxn | null;
}

/** A finished transaction waiting for its write and fdatasync. */
export interface QueuedTxn {
  readonly tid: bigint;
  readonly voted: VotedTxn;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
  /** True once its writes were entered in the overlay (a later transaction began before it was published). */
  merged: boolean;
}
