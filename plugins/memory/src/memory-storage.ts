/**
 * A storage that keeps everything in memory: the reference engine.
 *
 * It is an example of a complete Storage (MVCC reads, history, iteration, restore with explicit
 * tids, pack and external-GC deletes) without the details that make real engines hard to read:
 * no files, no format, no crash recovery. Read it first, then read an engine that has to earn
 * its durability.
 *
 * It does the obvious thing everywhere, and is naive about it:
 * - every revision of an object sits in one array, oldest first, searched from the end;
 * - a commit applies all of its writes in one synchronous step, so readers see a transaction
 *   entirely or not at all; there is no other synchronisation;
 * - the commit lock is a first-come-first-served queue that whole transactions wait in, from
 *   `tpcBegin` to `tpcFinish`/`tpcAbort`, and a release wakes only the next one; nothing is
 *   grouped or pipelined (nothing here waits for I/O);
 * - pack walks every object and rewrites the transaction log it keeps for `iterator`;
 * - nothing is durable: close (or a crash) forgets it all.
 */
import { randomBytes } from 'node:crypto';
import {
  assertU64,
  ConflictError,
  InvalidArgumentError,
  nextTid,
  PackInProgressError,
  POSKeyError,
  storageCapabilities,
  systemClock,
  tidToDate,
  toHex,
  ZERO_TID,
} from '@handlerton/framework';
import { CommitSlot } from '@handlerton/framework/kit';
import type {
  BlobRef,
  Clock,
  HistoryEntry,
  IteratedTransaction,
  LoadedRecord,
  LoadedRevision,
  Oid,
  PackObserver,
  PackResult,
  RecordInput,
  RecordRefs,
  Storage,
  StorageCapabilities,
  StorageTransaction,
  StoreWrite,
  Tid,
  TransactionMeta,
} from '@handlerton/framework';
import { checkRecordIn, copyMeta, recordOut, RecordSlab, type StoredRecord } from './memory-records.js';

/** One revision of an object (`refs` null: a delete marker), made when stored, committed at tpcFinish. */
interface Revision extends StoredRecord {
  readonly tid: Tid;
  readonly meta: TransactionMeta;
}

/** A revision that is not a delete marker. */
type LiveRevision = Revision & { readonly refs: RecordRefs };

/** The bytes of every delete marker. */
const NO_BYTES = new Uint8Array(0);

/** A committed transaction as kept for `iterator` (pack may rewrite it). */
interface LoggedTransaction {
  readonly tid: Tid;
  readonly status: ' ' | 'p';
  readonly meta: TransactionMeta;
  /** The oids written, and their revisions at the same index. */
  readonly oids: readonly Oid[];
  readonly revisions: readonly Revision[];
}

/** The transaction holding the commit lock. */
interface ActiveTransaction {
  readonly txn: StorageTransaction;
  readonly tid: Tid;
  readonly meta: TransactionMeta;
  readonly writes: Map<Oid, Revision>;
  voted: boolean;
}

/** Options of a MemoryStorage. */
export interface MemoryStorageOptions {
  /** Time source for tids (default: the system clock). */
  readonly clock?: Clock;
}

const PACK_BATCH = 1000;

/** A complete, non-durable Storage held in memory. */
export class MemoryStorage implements Storage {
  /** The capability manifest every MemoryStorage has. */
  static readonly capabilities: StorageCapabilities = storageCapabilities({
    mvcc: true,
    history: true,
    iterator: true,
    restore: true,
    pack: true,
    externalGC: true,
  });

  readonly name = 'memory';
  readonly capabilities = MemoryStorage.capabilities;
  readonly databaseId: bigint = randomBytes(8).readBigUInt64BE(0);

  readonly #clock: Clock;
  readonly #slab = new RecordSlab();
  #revisions = new Map<Oid, Revision[]>();
  #log: LoggedTransaction[] = [];
  #lastTid: Tid = ZERO_TID;
  #packHorizon: Tid = ZERO_TID;
  #lastIssuedTid: Tid = ZERO_TID;
  #lastOid: Oid = 0n;
  /** The commit lock (first come first served) and the transaction holding it. */
  readonly #slot = new CommitSlot<ActiveTransaction>('memory');
  #packing = false;

  constructor(options: MemoryStorageOptions = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  async newOid(): Promise<Oid> {
    this.#checkOpen();
    this.#lastOid += 1n;
    return this.#lastOid;
  }

  async load(oid: Oid): Promise<LoadedRecord> {
    const current = this.#current(oid);
    if (!isLive(current)) throw new POSKeyError(`oid ${toHex(oid)} does not exist`, oid);
    return { oid, tid: current.tid, ...recordOut(current) };
  }

  async loadSerial(oid: Oid, tid: Tid): Promise<LoadedRecord> {
    assertU64(tid, 'tid');
    const revision = this.#revisionsOf(oid).find((r) => r.tid === tid);
    if (!isLive(revision)) {
      throw new POSKeyError(`oid ${toHex(oid)} has no revision ${toHex(tid)}`, oid);
    }
    return { oid, tid, ...recordOut(revision) };
  }

  async loadBefore(oid: Oid, tid: Tid): Promise<LoadedRevision | null> {
    assertU64(tid, 'tid');
    const revisions = this.#revisionsOf(oid);
    if (revisions.length === 0) throw new POSKeyError(`oid ${toHex(oid)} does not exist`, oid);
    let i = revisions.length - 1;
    while (i >= 0 && revisions[i]!.tid >= tid) i--;
    if (i < 0) return null;
    const found = revisions[i]!;
    if (!isLive(found)) throw new POSKeyError(`oid ${toHex(oid)} was deleted before ${toHex(tid)}`, oid);
    return { oid, tid: found.tid, ...recordOut(found), nextTid: revisions[i + 1]?.tid ?? null };
  }

  packHorizon(): Tid {
    this.#checkOpen();
    return this.#packHorizon;
  }

  lastTransaction(): Tid {
    this.#checkOpen();
    return this.#lastTid;
  }

  async tpcBegin(txn: StorageTransaction, tid?: Tid): Promise<Tid> {
    this.#checkOpen();
    if (tid !== undefined) assertU64(tid, 'tid');
    const meta = copyMeta(txn.meta);
    const active = await this.#slot.begin(txn, () => {
      if (tid !== undefined && tid <= this.#lastTid) {
        throw new InvalidArgumentError(`explicit tid ${toHex(tid)} is not after the last transaction ${toHex(this.#lastTid)}`);
      }
      return { txn, tid: tid ?? nextTid(this.#lastIssuedTid, this.#clock.now()), meta, writes: new Map(), voted: false };
    });
    if (active.tid > this.#lastIssuedTid) this.#lastIssuedTid = active.tid;
    return active.tid;
  }

  async store(oid: Oid, serial: Tid, record: RecordInput, txn: StorageTransaction): Promise<void> {
    this.#storeOne(this.#writing(txn), oid, serial, record);
  }

  /** The batch in one synchronous pass (no await per record): the same checks as store and deleteObject. */
  async storeMany(writes: readonly StoreWrite[], txn: StorageTransaction): Promise<void> {
    const active = this.#writing(txn);
    for (const { oid, serial, record } of writes) {
      if (record === null) this.#deleteOne(active, oid, serial);
      else this.#storeOne(active, oid, serial, record);
    }
  }

  #storeOne(active: ActiveTransaction, oid: Oid, serial: Tid, record: RecordInput): void {
    assertU64(serial, 'serial');
    const refs = checkRecordIn(record);
    const current = this.#current(oid);
    const committed = isLive(current) ? current.tid : undefined;
    // A deleted object is recreated with serial 0n or with the delete marker's tid (as ZODB FileStorage).
    const recreatesDeleted = current !== undefined && current.refs === null && serial === current.tid;
    if (serial !== (committed ?? ZERO_TID) && !recreatesDeleted) throw new ConflictError(oid, committed, serial);
    this.#write(active, oid, refs, record.data);
  }

  async deleteObject(oid: Oid, serial: Tid, txn: StorageTransaction): Promise<void> {
    this.#deleteOne(this.#writing(txn), oid, serial);
  }

  #deleteOne(active: ActiveTransaction, oid: Oid, serial: Tid): void {
    assertU64(serial, 'serial');
    const current = this.#current(oid);
    if (!isLive(current)) throw new POSKeyError(`oid ${toHex(oid)} has no current revision to delete`, oid);
    if (serial !== current.tid) throw new ConflictError(oid, current.tid, serial, 'delete');
    this.#write(active, oid, null, NO_BYTES);
  }

  async restore(oid: Oid, record: RecordInput | null, txn: StorageTransaction): Promise<void> {
    const active = this.#writing(txn);
    assertU64(oid, 'oid');
    if (record === null) this.#write(active, oid, null, NO_BYTES);
    else this.#write(active, oid, checkRecordIn(record), record.data);
  }

  async tpcVote(txn: StorageTransaction): Promise<void> {
    this.#writing(txn).voted = true;
  }

  async tpcFinish(txn: StorageTransaction): Promise<Tid> {
    const active = this.#activeFor(txn);
    const oids = [...active.writes.keys()];
    const written = [...active.writes.values()];
    for (let i = 0; i < oids.length; i++) {
      const oid = oids[i]!;
      const revisions = this.#revisions.get(oid);
      if (revisions === undefined) this.#revisions.set(oid, [written[i]!]);
      else revisions.push(written[i]!);
    }
    this.#log.push({ tid: active.tid, status: ' ', meta: active.meta, oids, revisions: written });
    this.#lastTid = active.tid;
    this.#slot.end(txn);
    return active.tid;
  }

  async tpcAbort(txn: StorageTransaction): Promise<void> {
    if (this.#slot.abort(txn) !== undefined) this.#slot.end(txn);
  }

  async history(oid: Oid, size = 1): Promise<HistoryEntry[]> {
    if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError(`history size must be a positive integer, got ${size}`);
    const revisions = this.#revisionsOf(oid);
    if (revisions.length === 0) throw new POSKeyError(`oid ${toHex(oid)} does not exist`, oid);
    return revisions
      .slice(-size)
      .reverse()
      .map((r) => ({
        tid: r.tid,
        time: tidToDate(r.tid),
        ...copyMeta(r.meta),
        size: r.len,
        deleted: r.refs === null,
      }));
  }

  iterator(start: Tid = ZERO_TID, stop?: Tid): AsyncIterable<IteratedTransaction> {
    this.#checkOpen();
    assertU64(start, 'start');
    if (stop !== undefined) assertU64(stop, 'stop');
    const snapshot = this.#log.filter((t) => t.tid >= start && (stop === undefined || t.tid <= stop));
    return (async function* () {
      for (const t of snapshot) {
        yield {
          tid: t.tid,
          status: t.status,
          meta: copyMeta(t.meta),
          records: t.oids.map((oid, i) => {
            const revision = t.revisions[i]!;
            return { oid, tid: t.tid, record: isLive(revision) ? recordOut(revision) : null };
          }),
        };
      }
    })();
  }

  async pack(packTid: Tid, observer?: PackObserver): Promise<PackResult> {
    this.#checkOpen();
    assertU64(packTid, 'packTid');
    if (this.#packing) throw new PackInProgressError('a pack is already running');
    this.#packing = true;
    try {
      // Commits go on while we yield; only what was committed when the pack began is touched.
      const cutoff = packTid < this.#lastTid ? packTid : this.#lastTid;
      // Raised before the first removal: reads of older views during the pack already see it.
      if (cutoff > this.#packHorizon) this.#packHorizon = cutoff;
      const removed = new Map<Tid, Set<Oid>>();
      const blobRefs: BlobRef[] = [];
      let removedRevisions = 0;
      let removedObjects = 0;
      let reclaimedBytes = 0;
      let seen = 0;
      for (const oid of [...this.#revisions.keys()]) {
        if (++seen % PACK_BATCH === 0) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          this.#checkOpen();
        }
        const revisions = this.#revisions.get(oid);
        if (revisions === undefined) continue;
        let keepFrom = revisions.length - 1;
        while (keepFrom >= 0 && revisions[keepFrom]!.tid > cutoff) keepFrom--;
        if (keepFrom < 0) continue;
        if (revisions[keepFrom]!.refs === null) keepFrom += 1;
        if (keepFrom === 0) continue;
        for (const r of revisions.slice(0, keepFrom)) {
          removedRevisions += 1;
          reclaimedBytes += r.len;
          blobRefs.push(...(r.refs?.blobs ?? []));
          const oids = removed.get(r.tid) ?? new Set<Oid>();
          removed.set(r.tid, oids.add(oid));
        }
        if (keepFrom === revisions.length) {
          this.#revisions.delete(oid);
          removedObjects += 1;
        } else {
          this.#revisions.set(oid, revisions.slice(keepFrom));
        }
      }
      this.#log = this.#log.flatMap((t): LoggedTransaction[] => {
        const gone = removed.get(t.tid);
        if (gone === undefined) return [t];
        const kept = t.oids.flatMap((oid, i) => (gone.has(oid) ? [] : [i]));
        if (kept.length === 0) return [];
        return [{ ...t, status: 'p', oids: kept.map((i) => t.oids[i]!), revisions: kept.map((i) => t.revisions[i]!) }];
      });
      for (let i = 0; i < blobRefs.length; i += PACK_BATCH) {
        await observer?.releaseBlobRefs(blobRefs.slice(i, i + PACK_BATCH));
      }
      return { removedRevisions, removedObjects, reclaimedBytes };
    } finally {
      this.#packing = false;
    }
  }

  async close(): Promise<void> {
    if (this.#slot.closed) return;
    // Waiters wake to find the storage closed.
    this.#slot.close();
    this.#revisions = new Map();
    this.#log = [];
  }

  /** Every revision of `oid`, oldest first (empty when unknown). */
  #revisionsOf(oid: Oid): readonly Revision[] {
    this.#checkOpen();
    assertU64(oid, 'oid');
    return this.#revisions.get(oid) ?? [];
  }

  /** The newest committed revision of `oid` (possibly a delete marker), or undefined. */
  #current(oid: Oid): Revision | undefined {
    return this.#revisionsOf(oid).at(-1);
  }

  /** Records a write in the active transaction (`refs` null: a delete), its bytes copied; later writes of the same oid replace earlier ones. */
  #write(active: ActiveTransaction, oid: Oid, refs: RecordRefs | null, data: Uint8Array): void {
    const bytes = refs === null ? NO_BYTES : this.#slab.put(data);
    const revision: Revision = { refs, bytes, off: refs === null ? 0 : this.#slab.offset, len: refs === null ? 0 : data.length, tid: active.tid, meta: active.meta };
    active.writes.set(oid, revision);
    if (oid > this.#lastOid) this.#lastOid = oid;
  }

  /** The active transaction if it is `txn` and has not voted yet. */
  #writing(txn: StorageTransaction): ActiveTransaction {
    return this.#slot.writing(txn);
  }

  /** The active transaction if it is `txn`. */
  #activeFor(txn: StorageTransaction): ActiveTransaction {
    return this.#slot.active(txn);
  }

  #checkOpen(): void {
    this.#slot.checkOpen();
  }
}

/** True when `revision` exists and is not a delete marker. */
function isLive(revision: Revision | undefined): revision is LiveRevision {
  return revision !== undefined && revision.refs !== null;
}
