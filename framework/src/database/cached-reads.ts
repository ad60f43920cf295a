/**
 * Reads through the record cache, and the bookkeeping that keeps it exact: which records each
 * storage transaction wrote (so that its finish ends and refills their revisions), and commits this
 * database did not make (another client's, or the raw engine's used beside the database).
 *
 * Other writers: before each cached read, the engine's `lastTransaction()` is compared with the last
 * tid the cache knows every commit through. A newer tid that is not one of this database's own
 * commits in flight means someone else committed: an engine that reports invalidations
 * (`Storage.invalidationsSince`, for engines shared by several clients) has the changed objects
 * forgotten; any other engine has the whole cache cleared. Reads of a view older than the engine's
 * pack horizon bypass the cache, so that they see what pack left (ReadConflictError, not old data).
 */
import { isHandlertonError } from '../contracts/errors.js';
import type { Oid, Tid } from '../contracts/ids.js';
import type { LoadedRecord, RecordInput } from '../contracts/records.js';
import type { Storage, StorageTransaction } from '../contracts/storage.js';
import type { CachedRevision, RecordCache } from './record-cache.js';

/** A storage transaction in progress, as the cache tracks it. */
interface TrackedCommit {
  readonly tid: Tid;
  /** The oids written, in order (an oid written twice appears twice: the later write is the one stored). */
  readonly oids: Oid[];
  /** The record of each write in `oids` (null: a delete). */
  readonly records: (RecordInput | null)[];
}

/** The committed revision of `oid` as of `viewTid` straight from the engine; null when none (or deleted). */
export async function readFromEngine(storage: Storage, oid: Oid, viewTid: Tid): Promise<LoadedRecord | null> {
  try {
    return storage.capabilities.mvcc ? await storage.loadBefore(oid, viewTid + 1n) : await storage.load(oid);
  } catch (error) {
    if (isHandlertonError(error, 'HANDLERTON_POS_KEY')) return null;
    throw error;
  }
}

/** The record cache of one database wired to its engine. */
export class CachedReads {
  readonly cache: RecordCache;
  readonly #storage: Storage;
  readonly #commits = new Map<StorageTransaction, TrackedCommit>();
  /** Tids of this database's commits that began and have not returned from tpcFinish. */
  readonly #ownTids = new Set<Tid>();
  /** Every commit up to this tid is known to the cache. */
  #knownThrough: Tid;
  /** The newest of this database's commits that returned (an older one may still be finishing). */
  #ownDone: Tid = 0n;
  #polling: Promise<void> | undefined;

  constructor(storage: Storage, cache: RecordCache) {
    this.#storage = storage;
    this.cache = cache;
    this.#knownThrough = storage.lastTransaction();
  }

  /** The cached revision of `oid` a view at `viewTid` reads, without waiting (as the cache holds it: never to be changed); undefined when the engine must be asked. */
  peek(oid: Oid, viewTid: Tid): CachedRevision | undefined {
    if (viewTid < this.#storage.packHorizon()) return undefined;
    const last = this.#storage.lastTransaction();
    if (last > this.#knownThrough && !this.#ownTids.has(last)) return undefined;
    return this.cache.lookup(oid, viewTid);
  }

  /** The revision of `oid` a view at `viewTid` reads; null when none. */
  async read(oid: Oid, viewTid: Tid): Promise<LoadedRecord | null> {
    if (viewTid < this.#storage.packHorizon()) return readFromEngine(this.#storage, oid, viewTid);
    if (this.#storage.lastTransaction() > this.#knownThrough) await this.#catchUp();
    const hit = this.cache.lookup(oid, viewTid);
    if (hit !== undefined) return { oid, tid: hit.tid, data: hit.record.data, refs: hit.record.refs };
    const ticket = this.cache.ticket();
    const mvcc = this.#storage.capabilities.mvcc;
    const loaded = await readFromEngine(this.#storage, oid, viewTid);
    if (loaded !== null) {
      const nextTid = mvcc ? ((loaded as { nextTid?: Tid | null }).nextTid ?? null) : null;
      this.cache.fillLoaded(oid, loaded.tid, nextTid, loaded, ticket);
    }
    return loaded;
  }

  /** A storage transaction of this database began at `tid`. */
  begun(txn: StorageTransaction, tid: Tid): void {
    // Commits of others finished before this one took the commit lock: learn about them first
    // (an engine with several clients is polled at the next read instead).
    const polled = this.#storage.invalidationsSince !== undefined;
    if (!polled && this.#storage.lastTransaction() > this.#knownThrough) this.#noteForeign(this.#storage.lastTransaction());
    this.#commits.set(txn, { tid, oids: [], records: [] });
    this.#ownTids.add(tid);
  }

  /** `txn` stored `record` for `oid` (null: a delete marker). */
  wrote(txn: StorageTransaction, oid: Oid, record: RecordInput | null): void {
    const tracked = this.#commits.get(txn);
    if (tracked === undefined) return;
    tracked.oids.push(oid);
    tracked.records.push(record);
  }

  /** `txn` stored each of `writes` (a batch; record null: a delete marker). */
  wroteMany(txn: StorageTransaction, writes: readonly { readonly oid: Oid; readonly record: RecordInput | null }[]): void {
    const tracked = this.#commits.get(txn);
    if (tracked === undefined) return;
    for (const write of writes) {
      tracked.oids.push(write.oid);
      tracked.records.push(write.record);
    }
  }

  /** Finishes `txn` in the engine, ending and refilling the revisions it writes. */
  async finish(txn: StorageTransaction): Promise<Tid> {
    const tracked = this.#commits.get(txn);
    if (tracked === undefined) return this.#storage.tpcFinish(txn);
    this.cache.commitStarting(tracked.tid, tracked.oids);
    let tid: Tid;
    try {
      tid = await this.#storage.tpcFinish(txn);
    } catch (error) {
      // The outcome is unknown until a reopen: nothing of it is filled in.
      this.cache.writesFinished(tracked.tid, tracked.oids, tracked.records, false);
      this.#forget(txn, tracked);
      throw error;
    }
    this.cache.writesFinished(tracked.tid, tracked.oids, tracked.records, true);
    this.#forget(txn, tracked);
    if (tid > this.#ownDone) this.#ownDone = tid;
    // A single-client engine: known through our newest returned commit once none of ours below it is
    // still finishing. An engine with several clients is polled instead (another client may have
    // committed between two of ours), so its invalidations are never skipped.
    const polled = this.#storage.invalidationsSince !== undefined;
    if (!polled && this.#ownDone > this.#knownThrough && this.#noOwnCommitBelow(this.#ownDone)) this.#knownThrough = this.#ownDone;
    return tid;
  }

  /** `txn` is being aborted. */
  aborted(txn: StorageTransaction): void {
    const tracked = this.#commits.get(txn);
    if (tracked !== undefined) this.#forget(txn, tracked);
  }

  #forget(txn: StorageTransaction, tracked: TrackedCommit): void {
    this.#commits.delete(txn);
    this.#ownTids.delete(tracked.tid);
  }

  /** True when none of this database's commits older than `tid` is still finishing. */
  #noOwnCommitBelow(tid: Tid): boolean {
    for (const own of this.#ownTids) if (own < tid) return false;
    return true;
  }

  /** The engine is past `#knownThrough`: a commit of ours in flight, or someone else's. */
  async #catchUp(): Promise<void> {
    const last = this.#storage.lastTransaction();
    if (this.#ownTids.has(last)) return;
    if (this.#storage.invalidationsSince === undefined) {
      this.#noteForeign(last);
      return;
    }
    this.#polling ??= this.#poll().finally(() => (this.#polling = undefined));
    await this.#polling;
  }

  /** Someone else committed up to `last` and the engine cannot say what: forget everything. */
  #noteForeign(last: Tid): void {
    if (this.#ownTids.has(last)) return;
    this.cache.clear();
    this.#knownThrough = last;
  }

  async #poll(): Promise<void> {
    const since = this.#knownThrough;
    const changes = await this.#storage.invalidationsSince!(since);
    if (changes.oids === null) this.cache.clear();
    else this.cache.invalidate(changes.oids);
    if (changes.tid > this.#knownThrough) this.#knownThrough = changes.tid;
  }
}
