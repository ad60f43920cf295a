/** What every blob view of one database shares: the handlerton, the locator codec and revision ids. */
import type { BlobHandlerton } from '../contracts/blob-handlerton.js';
import type { Clock } from '../contracts/context.js';
import type { BlobId, Tid } from '../contracts/ids.js';
import { nextTid } from '../contracts/ids.js';
import { handlertonId, type LocatorCodec } from '../contracts/locator.js';

/** Shared blob services of one open database. */
export class BlobServices {
  readonly blobs: BlobHandlerton;
  readonly codec: LocatorCodec;
  readonly handlertonId: number;
  readonly #clock: Clock;
  #lastRevision: Tid = 0n;
  /** Commits in flight, by tid: their records may be visible before their blob revisions are. */
  readonly #committing = new Map<Tid, Promise<void>>();
  readonly #locks = new Map<BlobId, Promise<void>>();

  constructor(blobs: BlobHandlerton, codec: LocatorCodec, clock: Clock) {
    this.blobs = blobs;
    this.codec = codec;
    this.handlertonId = handlertonId(blobs.name);
    this.#clock = clock;
  }

  /** True when blob data commits with the storage transaction. */
  get dataTransactional(): boolean {
    return this.blobs.capabilities.mode === 'dataTransactional';
  }

  /**
   * Marks `tid` as committing; returns the function that marks it settled. Between the storage's
   * tpcFinish (record visible) and the handlerton's commit (revision visible), readers of revision
   * `tid` wait instead of failing.
   */
  trackCommit(tid: Tid): () => void {
    let settle!: () => void;
    this.#committing.set(tid, new Promise<void>((resolve) => (settle = resolve)));
    return () => {
      this.#committing.delete(tid);
      settle();
    };
  }

  /** Resolves once the commit of `revision` (if one is in flight) has settled. */
  async settled(revision: Tid): Promise<void> {
    await this.#committing.get(revision);
  }

  /** Runs `operation` alone among operations on the same blob (own commits of the non-data modes). */
  exclusive<T>(blobId: BlobId, operation: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(blobId) ?? Promise.resolve();
    const run = previous.then(operation, operation);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#locks.set(blobId, tail);
    void tail.then(() => {
      if (this.#locks.get(blobId) === tail) this.#locks.delete(blobId);
    });
    return run;
  }

  /** A fresh revision id for handlertons that commit on their own (greater than `after`). */
  nextRevision(after: Tid): Tid {
    const floor = after > this.#lastRevision ? after : this.#lastRevision;
    this.#lastRevision = nextTid(floor, this.#clock.now());
    return this.#lastRevision;
  }
}
