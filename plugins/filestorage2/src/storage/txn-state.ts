/** The in-progress state of the storage transaction holding the commit lock. */
import type { StorageTransaction } from '@handlerton/framework';
import type { OidKey } from './oid-key.js';
import type { MetaBytes } from './txn-format.js';

/**
 * One pending write of the transaction; its refs and data bytes live in the transaction's arena.
 * The vote fills in the sources, `prev`, `off` and `tid`, so that the same object is encoded,
 * kept in the overlay of queued writes, and published (no per-record copies).
 */
export interface PendingWrite {
  readonly key: OidKey;
  readonly oid: bigint;
  readonly deleted: boolean;
  refsSrc: Uint8Array;
  readonly refsAt: number;
  readonly refsLen: number;
  dataSrc: Uint8Array;
  readonly dataAt: number;
  readonly dataLen: number;
  prev: number;
  off: number;
  tid: bigint;
}

/** Append-only byte store of one transaction's record payloads (one allocation instead of one per store). */
export class Arena {
  private buf = Buffer.allocUnsafe(16 * 1024);
  private used = 0;

  /** Copies `bytes` in; returns where they start. */
  add(bytes: Uint8Array): number {
    const at = this.used;
    if (at + bytes.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, at + bytes.length));
      this.buf.copy(grown, 0, 0, at);
      this.buf = grown;
    }
    this.buf.set(bytes, at);
    this.used += bytes.length;
    return at;
  }

  /** Forgets the contents so the arena can serve the next transaction. */
  reset(): void {
    this.used = 0;
  }

  /** The backing buffer (offsets from `add` index into it; valid until the next `add`). */
  get bytes(): Buffer {
    return this.buf;
  }
}

/** The encoded transaction, placed in the active segment by the vote. */
export interface VotedTxn {
  readonly bytes: Buffer;
  readonly pos: number;
  readonly records: PendingWrite[];
}

/** State of the active storage transaction. */
export interface TxnState {
  readonly txn: StorageTransaction;
  readonly tid: bigint;
  readonly meta: MetaBytes;
  readonly writes: Map<OidKey, PendingWrite>;
  arena: Arena | null;
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
