/**
 * The Database: transactions, snapshots, locators, pack and external GC over one Storage and one
 * BlobHandlerton. It owns both engines and closes them on close.
 */
import type { BlobHandlerton } from '../contracts/blob-handlerton.js';
import type { Clock, Logger } from '../contracts/context.js';
import type { BlobHandle, CommittedTransaction, Database, GcOptions, GcResult, PackOptions, PackProgress, RecordCodec, Snapshot, Transaction, TransactionOptions, TransactionRange } from '../contracts/database.js';
import { type ConflictError, InvalidArgumentError, isHandlertonError, type ReadConflictError, StorageClosedError } from '../contracts/errors.js';
import type { Tid } from '../contracts/ids.js';
import { assertU64, tidFromMillis, tidToDate } from '../contracts/ids.js';
import type { Locator } from '../contracts/locator.js';
import type { DatabasePackResult } from '../contracts/records.js';
import { BlobHandleImpl, type HandleOwner } from '../blobs/blob-handle.js';
import type { BlobServices } from '../blobs/blob-services.js';
import { EMPTY_SOURCE, revisionSource } from '../blobs/byte-source.js';
import { assertOptionsObject, assertTransactionMeta, describeValue } from '../util/validate.js';
import { collectGarbage } from './collect-garbage.js';
import { DbSnapshot } from './snapshot.js';
import { DbTransaction } from './transaction.js';
import { backoffDelay, resolveBackoff } from './retry-backoff.js';
import { RECORD_CODECS } from './record-codecs.js';
import { resolveTidRange } from './iterate.js';
import { toDbRecord } from './base-view.js';
import type { RuntimeStorage } from './runtime-storage.js';
import type { RecordCacheStats } from './record-cache.js';

/** Everything a Database is built from. */
export interface DatabaseParts {
  readonly storage: RuntimeStorage;
  readonly services: BlobServices;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Runs after the engines closed (disposes the database's DI container). */
  readonly onClose?: () => Promise<void>;
  /** Encodes the application's values into record bytes and back (default: the bytes codec). */
  readonly codec?: RecordCodec<unknown>;
}

/** Longest wait before a conflict retry for the winning commit to become visible. */
const RETRY_SETTLE_MS = 1000;

/** The framework's Database implementation. */
export class DatabaseImpl<V = Uint8Array> implements Database<V> {
  readonly #storage: RuntimeStorage;
  readonly #services: BlobServices;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #onClose: (() => Promise<void>) | undefined;
  readonly #codec: RecordCodec<unknown>;
  readonly #transactions = new Set<DbTransaction<V>>();
  readonly #snapshots = new Set<DbSnapshot<V>>();
  readonly #detachedHandles = new Set<BlobHandleImpl>();
  #closing: Promise<void> | undefined;

  constructor(parts: DatabaseParts) {
    this.#storage = parts.storage;
    this.#services = parts.services;
    this.#logger = parts.logger;
    this.#clock = parts.clock;
    this.#onClose = parts.onClose;
    this.#codec = parts.codec ?? RECORD_CODECS.bytes;
  }

  /** The record codec in use (`'bytes'` unless config named another). */
  get codec(): RecordCodec<unknown> {
    return this.#codec;
  }

  get capabilities(): Database['capabilities'] {
    return { storage: this.#storage.capabilities, blobs: this.#services.blobs.capabilities };
  }

  get engines(): Database['engines'] {
    return { storage: this.#storage.name, blobs: this.#services.blobs.name };
  }

  /** The storage as the framework wraps it (for tools: copy, verify). */
  get storage(): RuntimeStorage {
    return this.#storage;
  }

  /** The blob handlerton in use. */
  get blobs(): BlobHandlerton {
    return this.#services.blobs;
  }

  /** The record cache's counters (hits, misses, bytes held); undefined when the cache is off. */
  recordCacheStats(): RecordCacheStats | undefined {
    return this.#storage.recordCacheStats();
  }

  lastTransaction(): Tid {
    this.#open();
    return this.#storage.lastTransaction();
  }

  /** Starts a transaction that the caller commits or aborts. */
  begin(options: TransactionOptions = {}): DbTransaction<V> {
    this.#open();
    assertTransactionOptions(options);
    const tx = new DbTransaction<V>(
      this.#storage,
      this.#services,
      this.#storage.lastTransaction(),
      // A copy: a caller changing its meta object after begin cannot slip unchecked values into the commit.
      options.meta === undefined ? {} : structuredClone(options.meta),
      this.#logger,
      (done) => {
        this.#transactions.delete(done);
        // Readers of committed revisions outlive their transaction; the database still closes them.
        for (const handle of [...this.#detachedHandles]) if (!handle.open) this.#detachedHandles.delete(handle);
        for (const handle of done.openBlobHandles()) this.#detachedHandles.add(handle);
      },
      this.#codec,
    );
    this.#transactions.add(tx);
    return tx;
  }

  async transaction<T>(fn: (tx: Transaction<V>) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidArgumentError(`fn must be a function (tx) => Promise, got ${describeValue(fn)}`);
    assertTransactionOptions(options);
    const retries = options.retries ?? 0;
    const backoff = resolveBackoff(options.backoff);
    for (let attempt = 0; ; attempt++) {
      // A shared engine learns of other clients' commits first, so the view includes them.
      await this.#storage.sync?.();
      const tx = this.begin(options);
      let result: T;
      try {
        result = await fn(tx);
      } catch (error) {
        await tx.abort();
        // A read that pack made inconsistent is transient, as in ZODB: a new attempt reads a newer view.
        if (isHandlertonError(error, 'HANDLERTON_READ_CONFLICT')) {
          if (attempt < retries) {
            await this.#beforeRetry(undefined, backoffDelay(backoff, attempt));
            continue;
          }
          throw gaveUp(error as ReadConflictError, attempt + 1, retries);
        }
        throw error;
      }
      try {
        await tx.commit();
        return result;
      } catch (error) {
        if (isHandlertonError(error, 'HANDLERTON_CONFLICT')) {
          if (attempt < retries) {
            this.#logger.debug({ attempt }, 'conflict, retrying transaction');
            await this.#beforeRetry((error as ConflictError).committedSerial, backoffDelay(backoff, attempt));
            continue;
          }
          throw gaveUp(error as ConflictError, attempt + 1, retries);
        }
        throw error;
      }
    }
  }

  /** The committed transactions of `range` in tid order (see Database.transactions). */
  async *transactions(range?: TransactionRange): AsyncGenerator<CommittedTransaction<V>> {
    this.#open();
    const { start, stop } = resolveTidRange(range);
    await this.#storage.sync?.();
    const last = this.#storage.lastTransaction();
    if (start > last || start > stop) return;
    for await (const txn of this.#storage.iterator(start, stop < last ? stop : last)) {
      this.#open();
      yield Object.freeze({
        tid: txn.tid,
        time: tidToDate(txn.tid),
        user: txn.meta.user,
        description: txn.meta.description,
        extension: txn.meta.extension,
        records: Object.freeze(
          txn.records.map((rec) => Object.freeze({ oid: rec.oid, record: rec.record === null ? null : toDbRecord<V>(rec.oid, rec.tid, rec.record, this.#codec) })),
        ),
      });
    }
  }

  async snapshot(at?: Tid): Promise<Snapshot<V>> {
    this.#open();
    if (at !== undefined) assertU64(at, 'at');
    await this.#storage.sync?.();
    // A snapshot never reaches past the last commit: later commits must not show up in it.
    const last = this.#storage.lastTransaction();
    const snapshot = new DbSnapshot<V>(this.#storage, this.#services, at === undefined || at > last ? last : at, this.#codec);
    this.#snapshots.add(snapshot);
    const close = snapshot.close.bind(snapshot);
    snapshot.close = async () => {
      this.#snapshots.delete(snapshot);
      await close();
    };
    return snapshot;
  }

  async openLocator(value: Locator | Uint8Array | string): Promise<BlobHandle> {
    this.#open();
    const locator = this.#services.codec.verify(value, this.#services.blobs.name);
    await this.#services.settled(locator.revision);
    const source = locator.revision === 0n ? EMPTY_SOURCE : revisionSource(await this.#services.blobs.openRevision(locator.blobId, locator.revision));
    const owner: HandleOwner = {
      engineName: this.#services.blobs.name,
      features: { seek: this.#services.blobs.capabilities.seek, truncate: this.#services.blobs.capabilities.truncate },
      handleClosed: async (handle) => {
        this.#detachedHandles.delete(handle);
      },
      flushWriter: async () => {},
    };
    const handle = new BlobHandleImpl('r', source, locator, owner);
    this.#detachedHandles.add(handle);
    return handle;
  }

  async pack(at?: Date | Tid, options?: PackOptions): Promise<DatabasePackResult> {
    this.#open();
    const onProgress = packProgressOption(options);
    let released = 0;
    let packTid: Tid;
    // "Now" is just after the last commit: a commit made earlier in the current millisecond is kept current, not lost.
    if (at === undefined) packTid = this.#storage.lastTransaction() + 1n;
    else if (at instanceof Date) {
      if (Number.isNaN(at.getTime())) throw new InvalidArgumentError('at must be a valid Date or a tid, got an invalid Date');
      packTid = tidFromMillis(at.getTime());
    }
    else {
      assertU64(at, 'at');
      packTid = at;
    }
    const last = this.#storage.lastTransaction();
    if (packTid > last + 1n) packTid = last + 1n;
    const blobs = this.#services.blobs;
    const dataTransactional = this.#services.dataTransactional;
    onProgress?.({ phase: 'records', blobRefsReleased: 0 });
    const result = await this.#storage.pack(packTid, {
      releaseBlobRefs: async (refs) => {
        released += refs.length;
        onProgress?.({ phase: 'records', blobRefsReleased: released });
        const ours = refs.filter((ref) => ref.handlerton === blobs.name);
        if (!dataTransactional) {
          // In the non-data modes a blob object's record names revision 0 and holds its blob's latest
          // revision; when pack drops that record (the object was deleted), the latest revision goes too.
          for (const ref of ours.filter((r) => r.revision === 0n)) {
            const latest = await blobs.latestRevision(ref.blobId);
            if (latest !== null) ours.push({ ...ref, revision: latest });
          }
        }
        await blobs.releaseReferences(ours.filter((ref) => ref.revision !== 0n));
      },
    });
    onProgress?.({ phase: 'blobs', blobRefsReleased: released });
    const reclaimed = await blobs.reclaim();
    return { ...result, reclaimedBlobRevisions: reclaimed.revisions, reclaimedBlobBytes: reclaimed.bytes };
  }

  collectGarbage(options?: GcOptions): Promise<GcResult> {
    this.#open();
    return collectGarbage(this.#storage, options, { clock: this.#clock, logger: this.#logger });
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    // Commits under way finish first (closing under them would drop prepared blob data); the rest abort.
    for (const tx of [...this.#transactions]) {
      if (tx.active) await tx.abort();
      else await tx.ended;
    }
    const steps: (() => Promise<void>)[] = [
      ...[...this.#snapshots].map((snapshot) => () => snapshot.close()),
      ...[...this.#detachedHandles].map((handle) => () => handle.close()),
      () => this.#services.blobs.close(),
      () => this.#storage.close(),
      async () => this.#onClose?.(),
    ];
    // Every step runs even when an earlier one fails (a held lock must always be released); the first error is rethrown.
    let failure: unknown;
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        failure ??= error;
        this.#logger.error({ err: String(error) }, 'error while closing the database');
      }
    }
    if (failure !== undefined) throw failure;
  }

  /**
   * Before a retry: waits (at most RETRY_SETTLE_MS) until the storage published `winner`, the commit
   * that won the race, then `delayMs` more (the backoff). An engine may report a conflict against a
   * transaction that finished but is not yet visible (group commit waiting for its fdatasync); an
   * immediate retry would read the old state again, and retries that never leave the microtask
   * queue starve that fdatasync's completion: a livelock. The backoff (full jitter) spreads the
   * losers of one race so that they do not all collide again on the next attempt.
   */
  async #beforeRetry(winner: Tid | undefined, delayMs: number): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    const deadline = performance.now() + RETRY_SETTLE_MS;
    while (winner !== undefined && this.#closing === undefined && this.#storage.lastTransaction() < winner && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    if (delayMs >= 1 && this.#closing === undefined) await new Promise((resolve) => setTimeout(resolve, delayMs));
  }

  #open(): void {
    if (this.#closing !== undefined) throw new StorageClosedError('database is closed');
  }
}

/** The last conflict of a transaction run that gave up, with the number of attempts in `attempts` and in its message. */
function gaveUp<E extends ConflictError | ReadConflictError>(error: E, attempts: number, retries: number): E {
  error.attempts = attempts;
  error.message += ` (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}: retries ${retries})`;
  return error;
}

/** Checks the options of `begin` / `transaction`: `{ meta?, retries?, backoff? }` with valid metadata. */
function assertTransactionOptions(options: unknown): asserts options is TransactionOptions {
  assertOptionsObject(options, 'options', ['meta', 'retries', 'backoff']);
  const retries = options?.['retries'];
  if (retries !== undefined && (typeof retries !== 'number' || !Number.isSafeInteger(retries) || retries < 0)) {
    throw new InvalidArgumentError(`options.retries must be a non-negative integer, got ${describeValue(retries)}`);
  }
  assertTransactionMeta(options?.['meta'], 'options.meta');
  resolveBackoff(options?.['backoff']);
}

/** The `onProgress` of pack options (InvalidArgumentError naming what is wrong). */
function packProgressOption(options: unknown): ((progress: PackProgress) => void) | undefined {
  assertOptionsObject(options, 'pack options', ['onProgress']);
  const onProgress = options?.['onProgress'];
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new InvalidArgumentError(`pack options.onProgress must be a function, got ${describeValue(onProgress)}`);
  }
  return onProgress as ((progress: PackProgress) => void) | undefined;
}
