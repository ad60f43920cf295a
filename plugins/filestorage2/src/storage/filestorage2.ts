/** FileStorage2: a segmented transaction log with on-disk sorted indexes (the Storage contract). */
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import {
  assertU64,
  ConflictError,
  CorruptionError,
  InvalidArgumentError,
  MAX_U64,
  nextTid,
  PackInProgressError,
  POSKeyError,
  ReadOnlyError,
  StorageClosedError,
  storageCapabilities,
  StorageIOError,
  StorageTransactionError,
  type EngineContext,
  toHex,
  type EngineStats,
  type EngineVerifyReport,
  type VerifyObserver,
  type HistoryEntry,
  type IteratedTransaction,
  type LoadedRecord,
  type LoadedRevision,
  type Oid,
  type PackObserver,
  type PackResult,
  type RecordInput,
  type Storage,
  type StorageCapabilities,
  type StorageTransaction,
  type StoreWrite,
  type Tid,
  oidKey,
  type OidKey,
} from '@handlerton/framework';
import { BATCH_SYNC_DELAY_MS, type FileStorage2Options } from '../filestorage2-config.js';
import { ActiveSegment } from './active-segment.js';
import { verifyStorageDirectory } from './verify-storage.js';
import { oidHashes } from './bloom.js';
import { PAGE_SIZE, PREALLOC_CHUNK, SEGMENT_FLAG_PREV_END, SEGMENT_FLAG_SYNC_MARKS, STATUS_COMMITTED } from './constants.js';
import { FileIO, isDirectorySyncFailure } from './file-io.js';
import { loadOrCreateLocatorKey } from './locator-key.js';
import { FreshOids } from './fresh-oids.js';
import { acquireLock } from './lock-file.js';
import { Mutex } from './mutex.js';
import { checkRecordInput, encodeMeta, refsBytes } from './record-codec.js';
import { historyOf, iterateChain, loadBeforeOf, loadCurrent, loadSerialOf, type SegmentChain } from './chain-reads.js';
import { openDirectory } from './open-directory.js';
import type { SegmentFile } from './segment-file.js';
import { runPack } from './pack.js';
import { PageCache } from './page-cache.js';
import type { SealedSegment } from './sealed-segment.js';
import { createNextSegment, writeTrailer } from './seal.js';
import { SegmentPreparer } from './segment-preparer.js';
import { BufferPool, TxnBuilder, type PendingWrite } from './txn-builder.js';
import type { QueuedTxn, TxnState } from './txn-state.js';
import { disposeReplaced, syncDisposal } from './retired-segments.js';
import type { SegmentHeader } from './segment-format.js';

const ENGINE = 'filestorage2';
/** How often a read-only open re-reads a live database whose files looked damaged. */
const READ_ONLY_OPEN_ATTEMPTS = 6;

/**
 * The data end of segment `seq` (low 32 bits) as the segment created after it recorded it, or
 * undefined when the next segment in the chain did not (created before the flag existed, or not
 * created by a switch from `seq`).
 */
function recordedDataEnd(headers: readonly SegmentHeader[], seq: number): number | undefined {
  let next: SegmentHeader | undefined;
  for (const h of headers) if (h.seq > seq && (next === undefined || h.seq < next.seq)) next = h;
  if (next === undefined || next.prevSeq !== seq || (next.flags & SEGMENT_FLAG_PREV_END) === 0) return undefined;
  return next.prevDataEnd;
}

/** The FileStorage2 storage engine. Open with `FileStorage2.open`. */
export class FileStorage2 implements Storage {
  readonly name = ENGINE;
  readonly capabilities: StorageCapabilities;
  readonly databaseId: bigint;
  /** The storage directory. */
  readonly location: string;

  /** Sealed segments, oldest first. */
  private sealed: SealedSegment[];
  private active: ActiveSegment | null;
  /** The previous active segment while its trailer is being written (read through its in-memory index). */
  private frozen: ActiveSegment | null;
  private lastTid: bigint;
  /** The locator secret, once asked for. */
  private locatorKey: Promise<Uint8Array | null> | null = null;
  private lastAssignedTid: bigint;
  private nextOid: bigint;
  /** No segment, queued transaction or write holds an oid above this one (a store of a higher oid needs no lookup). */
  private maxWrittenOid: bigint;
  /** Oids (from the one after the highest at open) that were never written: their stores need no lookup. */
  private readonly fresh: FreshOids;
  private readonly commitLock = new Mutex();
  private current: TxnState | null = null;
  /** Transactions waiting in tpcBegin for the commit lock, and those aborted while waiting. */
  private readonly waiting = new Set<StorageTransaction>();
  private readonly abandoned = new WeakSet<StorageTransaction>();
  private readonly overlay = new Map<OidKey, PendingWrite>();
  /** Side results of `currentRevision` (see there). */
  private foundActiveOff = 0;
  private foundNeverWritten = false;
  /** Transaction buffers recycled between commits. */
  private readonly buffers = new BufferPool();
  private queue: QueuedTxn[] = [];
  /** Finished transactions not yet published, in commit order (queued or being flushed). */
  private unpublished: QueuedTxn[] = [];
  private flushing = false;
  /** The next active segment's file, being zero-filled ahead of time. */
  private preparer: SegmentPreparer | null = null;
  /** Seq of a segment whose preparation failed (not tried again). */
  private preparationFailed = -1;
  /** A batch write on the thread pool (simulateCrash waits for it before closing the files). */
  private inFlightWrite: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];
  private failure: StorageIOError | null = null;
  private closed = false;
  private packing: Promise<PackResult> | null = null;
  /** The running seal (switch and trailer); it never rejects (a failure is recorded by failStop). */
  private sealing: Promise<void> | null = null;
  private batchTimer: NodeJS.Timeout | null = null;
  private dirtySinceSync = false;
  /** The running fdatasync of `syncNow` (batch/none modes); no batch is written while it runs. */
  private syncing: Promise<void> | null = null;
  /** The batch-mode timer fired while the flush loop ran: the loop syncs before its next batch. */
  private syncWanted = false;
  /** The inline fdatasync of lone commits is off until then (performance.now() ms; see syncCommitted). */
  private inlineSyncOffUntil = 0;
  /** Moving average (ms) of the commits' fdatasync durations, inline or not. */
  private syncAverage = 0;
  /** When lone commits last yielded to the event loop (performance.now() ms). */
  private lastInlineYield = 0;

  private constructor(
    private readonly io: FileIO,
    private readonly options: FileStorage2Options,
    private readonly context: EngineContext,
    private readonly cache: PageCache,
    private readonly releaseLock: () => void,
    databaseId: bigint,
    sealed: SealedSegment[],
    frozen: ActiveSegment | null,
    active: ActiveSegment | null,
  ) {
    this.capabilities = FileStorage2.capabilitiesFor(options.readOnly);
    this.databaseId = databaseId;
    this.location = options.directory;
    this.sealed = sealed;
    this.frozen = frozen;
    this.active = active;
    let last = 0n;
    let maxOid = -1n;
    for (const s of sealed) {
      if (s.footer.maxTid > last) last = s.footer.maxTid;
      // Every footer counts, even one a pack emptied: its maxOid keeps newOid from handing out an oid again.
      if (s.footer.maxOid > maxOid) maxOid = s.footer.maxOid;
    }
    for (const a of [frozen, active]) {
      if (!a) continue;
      if (a.maxTid > last) last = a.maxTid;
      if (a.maxOid > maxOid) maxOid = a.maxOid;
    }
    this.lastTid = last;
    this.lastAssignedTid = last;
    this.nextOid = maxOid + 1n > 1n ? maxOid + 1n : 1n; // oid 0 is the root: never handed out
    this.maxWrittenOid = maxOid;
    this.fresh = new FreshOids(Number(maxOid < 0n ? 0n : maxOid) + 1);
    this.active?.index.startNewOidsAt(this.nextOid); // an empty active segment only
  }

  /** The capability manifest of a FileStorage2 opened with `readOnly`. */
  static capabilitiesFor(readOnly: boolean): StorageCapabilities {
    return storageCapabilities({
      mvcc: true,
      history: true,
      iterator: true,
      restore: true,
      pack: true,
      externalGC: true,
      undo: false,
      durable: true,
      crashSafe: true,
      readOnly,
    });
  }

  /** Opens (creating when missing) the storage directory: lock, trailers, scan of the active segment. */
  static async open(options: FileStorage2Options, context: EngineContext): Promise<FileStorage2> {
    if (!options.readOnly) return FileStorage2.openOnce(options, context);
    // Read-only, the files may belong to a live writer: a read racing its appends or a seal can see
    // a transaction half written with a later one already complete. Damage found at the same place
    // twice is real; damage that moves between reads is a live tail, and the last attempt reads the
    // active segment up to the first incomplete transaction (what the writer has published so far).
    let previous: string | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await FileStorage2.openOnce(options, context, attempt === READ_ONLY_OPEN_ATTEMPTS);
      } catch (error) {
        if (!(error instanceof CorruptionError) || attempt >= READ_ONLY_OPEN_ATTEMPTS) throw error;
        const where = `${error.file}@${error.offset}: ${error.message}`;
        if (where === previous) throw error;
        previous = where;
        await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
      }
    }
  }

  private static async openOnce(options: FileStorage2Options, context: EngineContext, liveTail = false): Promise<FileStorage2> {
    const io = new FileIO(context.fs);
    const dir = options.directory;
    if (!options.readOnly) {
      try {
        // the new directories' names are durable only once their parents are synced (rule R1)
        for (const created of io.mkdirs(dir)) await io.fsyncDir(dirname(created));
      } catch (e) {
        throw new StorageIOError(`cannot create storage directory ${dir}: ${(e as Error).message}`, { cause: e });
      }
    } else if (!context.fs.existsSync(dir)) {
      throw new StorageIOError(`storage directory ${dir} does not exist (read-only open creates nothing)`);
    }
    const releaseLock = options.readOnly ? () => {} : await acquireLock(io, dir);
    const cache = new PageCache(2048);
    let sealed: SealedSegment[] = [];
    let frozen: ActiveSegment | null = null;
    let active: ActiveSegment | null = null;
    let pending: SegmentFile[] = [];
    try {
      const found = await openDirectory(io, dir, options.readOnly, cache, options.archivePacked);
      sealed = found.sealed;
      pending = found.unsealedOlder.map((u) => u.file);
      const databaseId = found.databaseId ?? randomBytes(8).readBigUInt64BE(0);
      const chunk = preallocChunk(options.segmentSize);
      const headers = [...found.sealed.map((s) => s.header), ...found.unsealedOlder.map((u) => u.header), ...(found.unsealed ? [found.unsealed.header] : [])];
      for (const u of found.unsealedOlder) {
        // a crash came while its trailer was being written: rebuild its index from its data
        const older = await ActiveSegment.recover(io, u.file, u.header, u.size, options.readOnly, chunk, yieldToLoop, false, true, recordedDataEnd(headers, u.header.seq));
        if (options.readOnly) {
          if (frozen || sealed.some((x) => x.seq > u.header.seq)) {
            throw new CorruptionError('an unsealed segment is followed by a sealed one', u.file.path, 0);
          }
          frozen = older;
        } else {
          sealed.push(await writeTrailer(io, older, cache, () => false));
          sealed.sort((a, b) => a.seq - b.seq);
        }
        pending = pending.filter((f) => f !== u.file);
      }
      if (found.unsealed) {
        const u = found.unsealed;
        // only the newest segment can end in a torn batch: an older one was synced before commits moved on
        active = await ActiveSegment.recover(io, u.file, u.header, u.size, options.readOnly, chunk, yieldToLoop, true, false, undefined, liveTail);
        const cut = active.cutBatch;
        if (cut) {
          context.logger.warn(
            { file: u.file.path, offset: cut.offset, bytes: cut.bytes, transactions: cut.transactions },
            `filestorage2: ${options.readOnly ? 'ignoring' : 'cut'} a torn write batch at open (a damaged transaction followed only by transactions written before the next fdatasync)`,
          );
        }
      } else if (!options.readOnly) {
        const prev = sealed.length ? sealed[sealed.length - 1]!.seq : 0;
        active = await ActiveSegment.create(io, dir, found.highestSeq + 1, prev, databaseId, chunk);
      }
      return new FileStorage2(io, options, context, cache, releaseLock, databaseId, sealed, frozen, active);
    } catch (e) {
      for (const s of sealed) s.file.close();
      for (const f of pending) f.close();
      frozen?.file.close();
      active?.file.close();
      releaseLock();
      throw e;
    }
  }

  // ---------------------------------------------------------------- reads

  /** The segment chain as the read functions see it. */
  private chain(): SegmentChain {
    return { active: this.active, frozen: this.frozen, sealed: this.sealed };
  }

  async newOid(): Promise<Oid> {
    this.checkOpen();
    if (this.options.readOnly) throw new ReadOnlyError('filestorage2 is read-only: newOid is refused');
    const oid = this.nextOid;
    this.nextOid += 1n;
    return oid;
  }

  async load(oid: Oid): Promise<LoadedRecord> {
    this.checkOpen();
    assertU64(oid, 'oid');
    return loadCurrent(this.chain(), oid);
  }

  async loadSerial(oid: Oid, tid: Tid): Promise<LoadedRecord> {
    this.checkOpen();
    assertU64(oid, 'oid');
    assertU64(tid, 'tid');
    return loadSerialOf(this.chain(), oid, tid);
  }

  async loadBefore(oid: Oid, tid: Tid): Promise<LoadedRevision | null> {
    this.checkOpen();
    assertU64(oid, 'oid');
    assertU64(tid, 'tid');
    return loadBeforeOf(this.chain(), oid, tid);
  }

  packHorizon(): Tid {
    // Pack outputs carry their pack tid; a later pack's output covers every earlier one.
    return this.sealed.reduce((high, s) => (s.header.packTid > high ? s.header.packTid : high), 0n);
  }

  lastTransaction(): Tid {
    return this.lastTid;
  }

  /**
   * The engine's own check (read-only, from the files): every checksum of every segment, each sealed
   * segment's index against its log, the active segment's tail (verify-storage.ts).
   */
  async verify(observer?: VerifyObserver): Promise<EngineVerifyReport> {
    this.checkOpen();
    return verifyStorageDirectory(this.options.directory, observer);
  }

  /** Segment counts and sizes, from what is in memory (no file access). */
  async stats(): Promise<EngineStats> {
    this.checkOpen();
    const sum = (pick: (s: SealedSegment) => number): number => this.sealed.reduce((total, s) => total + pick(s), 0);
    const active = this.active;
    return {
      sealedSegments: this.sealed.length,
      sealedBytes: sum((s) => s.fileSize),
      sealedDataBytes: sum((s) => s.footer.dataEnd),
      sealedIndexEntries: sum((s) => s.footer.count),
      sealedTransactions: sum((s) => s.footer.txnCount),
      activeDataBytes: active?.publishedEnd ?? 0,
      activeAllocatedBytes: active?.allocatedEnd ?? 0,
      activeTransactions: active?.txnCount ?? 0,
      packHorizon: toHex(this.packHorizon()),
    };
  }

  async history(oid: Oid, size = 1): Promise<HistoryEntry[]> {
    this.checkOpen();
    assertU64(oid, 'oid');
    if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError(`history size must be a positive integer, got ${size}`);
    return historyOf(this.chain(), oid, size);
  }

  iterator(start: Tid = 0n, stop: Tid = MAX_U64): AsyncIterable<IteratedTransaction> {
    this.checkOpen();
    assertU64(start, 'start');
    assertU64(stop, 'stop');
    const bound = stop < this.lastTid ? stop : this.lastTid;
    // the chain is read when iteration starts; the tid bound keeps later commits out
    return { [Symbol.asyncIterator]: () => iterateChain(this.io, this.chain(), start, bound) };
  }

  // ---------------------------------------------------------------- two-phase commit

  async tpcBegin(txn: StorageTransaction, tid?: Tid): Promise<Tid> {
    this.checkWritable();
    if (this.current?.txn === txn) throw new StorageTransactionError('transaction is already active');
    if (tid !== undefined) assertU64(tid, 'tid');
    if (this.waiting.has(txn)) throw new StorageTransactionError('transaction is already waiting to begin');
    const meta = encodeMeta(txn.meta);
    this.waiting.add(txn);
    try {
      // backpressure: the active segment is full again while the previous one is still being sealed
      while (this.sealing && this.frozen && this.active && this.active.reservedEnd >= this.options.segmentSize) await this.sealing;
      await this.commitLock.acquire();
    } finally {
      this.waiting.delete(txn);
    }
    try {
      this.checkWritable();
      if (this.abandoned.has(txn)) {
        this.abandoned.delete(txn);
        throw new StorageTransactionError('transaction was aborted before it began');
      }
      let assigned: bigint;
      if (tid !== undefined) {
        if (tid <= this.lastAssignedTid) {
          throw new InvalidArgumentError(`explicit tid ${toHex(tid)} must exceed the last transaction ${toHex(this.lastAssignedTid)}`);
        }
        assigned = tid;
      } else {
        assigned = nextTid(this.lastAssignedTid, this.context.clock.now());
      }
      this.lastAssignedTid = assigned;
      // the commit lock is held until tpcFinish: the transaction's place in the active segment is fixed now
      const builder = new TxnBuilder(this.buffers, assigned, STATUS_COMMITTED, meta, this.active!.reservedEnd);
      this.current = { txn, tid: assigned, writes: null, builder, voted: null };
      return assigned;
    } catch (e) {
      this.commitLock.release();
      throw e;
    }
  }

  async store(oid: Oid, serial: Tid, record: RecordInput, txn: StorageTransaction): Promise<void> {
    this.storeOne(this.activeState(txn), oid, serial, record);
  }

  async deleteObject(oid: Oid, serial: Tid, txn: StorageTransaction): Promise<void> {
    this.deleteOne(this.activeState(txn), oid, serial);
  }

  /** The whole batch in one synchronous pass: checks and encodes each record into the transaction's buffer. */
  async storeMany(writes: readonly StoreWrite[], txn: StorageTransaction): Promise<void> {
    const state = this.activeState(txn);
    for (const write of writes) {
      if (write.record === null) this.deleteOne(state, write.oid, write.serial);
      else this.storeOne(state, write.oid, write.serial, write.record);
    }
  }

  private storeOne(state: TxnState, oid: Oid, serial: Tid, record: RecordInput): void {
    assertU64(oid, 'oid');
    assertU64(serial, 'serial');
    checkRecordInput(record);
    const key = oidKey(oid);
    const cur = this.currentRevision(oid, key);
    const committed = cur && !cur.deleted ? cur.tid : undefined;
    // A deleted object is recreated with serial 0n or with the delete marker's tid (the contract, as ZODB).
    const recreatesDeleted = cur !== null && cur.deleted && serial === cur.tid;
    if ((committed ?? 0n) !== serial && !recreatesDeleted) throw new ConflictError(oid, committed, serial);
    this.addWrite(state, oid, false, refsBytes(record), record.data, key, this.foundActiveOff, this.foundNeverWritten);
  }

  private deleteOne(state: TxnState, oid: Oid, serial: Tid): void {
    assertU64(oid, 'oid');
    assertU64(serial, 'serial');
    const cur = this.currentRevision(oid);
    if (!cur || cur.deleted) throw new POSKeyError(`oid ${toHex(oid)} has no current revision to delete`, oid);
    if (cur.tid !== serial) throw new ConflictError(oid, cur.tid, serial);
    this.addWrite(state, oid, true, EMPTY, EMPTY, oidKey(oid), this.foundActiveOff, this.foundNeverWritten);
  }

  async restore(oid: Oid, record: RecordInput | null, txn: StorageTransaction): Promise<void> {
    const state = this.activeState(txn);
    assertU64(oid, 'oid');
    const key = oidKey(oid);
    this.currentRevision(oid, key);
    if (record === null) {
      this.addWrite(state, oid, true, EMPTY, EMPTY, key, this.foundActiveOff, this.foundNeverWritten);
    } else {
      checkRecordInput(record);
      this.addWrite(state, oid, false, refsBytes(record), record.data, key, this.foundActiveOff, this.foundNeverWritten);
    }
  }

  async tpcVote(txn: StorageTransaction): Promise<void> {
    const state = this.activeState(txn, true);
    if (state.voted) return;
    const builder = state.builder;
    const bytes = builder.finish();
    this.active!.reservedEnd = builder.txnOff + bytes.length;
    state.voted = { bytes, pos: builder.txnOff, records: builder.records, builder };
  }

  async tpcFinish(txn: StorageTransaction): Promise<Tid> {
    const state = this.activeState(txn, true);
    if (!state.voted) await this.tpcVote(txn);
    const voted = state.voted!;
    const tid = state.tid;
    const done = new Promise<void>((resolve, reject) => {
      const queued: QueuedTxn = { tid, voted, resolve, reject, merged: false };
      this.queue.push(queued);
      this.unpublished.push(queued);
    });
    // the position in the commit order is fixed: let the next committer in (group commit)
    this.current = null;
    this.commitLock.release();
    this.kickFlush();
    await done;
    return tid;
  }

  async tpcAbort(txn: StorageTransaction): Promise<void> {
    const state = this.current;
    if (!state || state.txn !== txn) {
      if (this.waiting.has(txn)) this.abandoned.add(txn);
      return;
    }
    if (state.voted && this.active) this.active.reservedEnd = state.voted.pos;
    state.builder.release();
    this.current = null;
    this.commitLock.release();
  }

  private activeState(txn: StorageTransaction, allowVoted = false): TxnState {
    this.checkWritable();
    const state = this.current;
    if (!state || state.txn !== txn) throw new StorageTransactionError('transaction is not the active storage transaction');
    if (state.voted && !allowVoted) throw new StorageTransactionError('transaction was already voted');
    return state;
  }

  /** Adds a write to the transaction (`prev`, `neverWritten`: what currentRevision found for the oid). */
  private addWrite(state: TxnState, oid: bigint, deleted: boolean, refs: Uint8Array, data: Uint8Array, key: OidKey, prev: number, neverWritten: boolean): void {
    if (oid > this.maxWrittenOid) this.maxWrittenOid = oid;
    if (typeof key === 'number') this.fresh.markWritten(key);
    // a never-written oid cannot have an earlier write in this transaction: the map waits until needed
    const writes = neverWritten && state.writes === null ? null : (state.writes ??= liveWrites(state.builder.records));
    const before = writes?.get(key);
    const write = state.builder.add(key, oid, deleted, refs, data, prev);
    if (before) state.builder.replace(before);
    writes?.set(key, write);
    if (oid >= this.nextOid) this.nextOid = oid + 1n;
  }

  /**
   * The newest revision of `oid`, counting queued transactions (for conflict checks). Also leaves in
   * `foundActiveOff` the offset of that revision's record when it is in the active segment, else 0:
   * the `prev` pointer of a new revision (stable until this transaction finishes, as it holds the lock);
   * and in `foundNeverWritten` whether no one (this transaction included) ever wrote the oid.
   */
  private currentRevision(oid: bigint, key = oidKey(oid)): { tid: bigint; deleted: boolean } | null {
    if (oid > this.maxWrittenOid || (typeof key === 'number' && this.fresh.isFresh(key))) {
      // Never written by anyone: no index can hold it (the common case of a store of a new object,
      // also when concurrent committers store the new oids they were handed in any order).
      this.foundActiveOff = 0;
      this.foundNeverWritten = true;
      return null;
    }
    this.foundNeverWritten = false;
    // writes of finished but unpublished transactions count too (entered on first need: stores of
    // new objects never need them)
    if (this.unpublished.length > 0) this.mergeUnpublished();
    const pending = this.overlay.get(key);
    if (pending) {
      this.foundActiveOff = pending.off;
      return pending;
    }
    const active = this.active;
    const id = active ? active.index.idOf(key) : -1;
    if (id >= 0) {
      const index = active!.index;
      this.foundActiveOff = index.offOf(id);
      return { tid: index.tidOf(id), deleted: index.deletedOf(id) };
    }
    this.foundActiveOff = 0; // a revision in another segment is not a `prev` of the active segment
    const f = this.frozen?.index.get(key);
    if (f) return f;
    let hash: [number, number, number, number] | null = null;
    for (let i = this.sealed.length - 1; i >= 0; i--) {
      const seg = this.sealed[i]!;
      if (oid > seg.footer.maxOid) continue; // above every oid it holds (new objects stored concurrently)
      hash ??= oidHashes(oid);
      const found = seg.find(oid, hash);
      if (found) return found;
    }
    return null;
  }

  /** Enters the writes of finished, unpublished transactions into the overlay (once each). */
  private mergeUnpublished(): void {
    // The merged ones are always a prefix (all are merged at once, new ones are appended, the
    // published are taken from the front): nothing to do when the newest is merged, else start
    // at the first one that is not.
    const queued = this.unpublished;
    let from = queued.length;
    while (from > 0 && !queued[from - 1]!.merged) from--;
    for (let i = from; i < queued.length; i++) {
      const q = queued[i]!;
      for (const r of q.voted.records) this.overlay.set(r.key, r);
      q.merged = true;
    }
  }

  // ---------------------------------------------------------------- group commit

  private kickFlush(): void {
    if (this.flushing) return;
    this.flushing = true;
    void this.flushLoop();
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.syncWanted) {
        // batch mode: a sync never overlaps a write, so the next batch can say "synced before"
        if (this.syncWanted) {
          this.syncWanted = false;
          await this.syncNow().catch(() => {});
        }
        if (this.syncing) await this.syncing.catch(() => {});
        if (this.queue.length === 0) continue;
        const batch = this.queue;
        this.queue = [];
        await this.flushBatch(batch);
      }
    } finally {
      this.flushing = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async flushBatch(batch: QueuedTxn[]): Promise<void> {
    if (this.failure) {
      for (const q of batch) q.reject(this.failure);
      this.unpublished = [];
      return;
    }
    const active = this.active!;
    const first = batch[0]!.voted.pos;
    const last = batch[batch.length - 1]!.voted;
    const end = last.pos + last.bytes.length;
    try {
      active.preallocate(end);
      // every byte before the batch is durable: its first transaction records it (FORMAT.md §6)
      if (active.syncedEnd === first && active.marksSyncs) batch[0]!.voted.builder.markSyncedBefore();
      if (batch.length === 1) {
        this.io.writeAt(active.file.fd, batch[0]!.voted.bytes, first, active.file.path);
      } else {
        // several committers: their CPU work goes on while the thread pool copies the batch
        const writing = this.io.writevAtAsync(active.file.fd, batch.map((q) => q.voted.bytes), first, active.file.path);
        this.inFlightWrite = writing;
        try {
          await writing;
        } finally {
          this.inFlightWrite = null;
        }
        if (this.failure) throw this.failure; // crashed (simulated) while the write was under way
      }
      active.writtenEnd = end;
      if (this.options.syncMode === 'always') {
        await this.syncCommitted(active, batch.length);
        active.syncedEnd = end;
      } else {
        this.dirtySinceSync = true;
      }
    } catch (e) {
      this.failStop(e);
      for (const q of batch) q.reject(this.failure);
      for (const q of this.queue.splice(0)) q.reject(this.failure);
      this.unpublished = [];
      return;
    }
    for (const q of batch) {
      active.publish(q.tid, q.voted.records, q.voted.pos + q.voted.bytes.length);
      q.voted.builder.release();
      this.lastTid = q.tid;
      this.unpublished.shift();
      if (q.merged) {
        for (const r of q.voted.records) {
          if (this.overlay.get(r.key) === r) this.overlay.delete(r.key);
        }
      }
      q.resolve();
    }
    if (this.options.syncMode === 'batch') this.scheduleBatchSync();
    this.prepareNextSegment(active, end - first);
    // a segment not zero-filled to its full size is left once its zeros are used up and the next one is ready
    const leaveEarly =
      active.preparedEnd < this.preparedSize() && active.publishedEnd >= active.preparedEnd && this.preparer !== null && this.preparer.ready;
    if ((active.publishedEnd >= this.options.segmentSize || leaveEarly) && !this.sealing && !this.closed) this.startSeal();
  }

  /**
   * Makes a written batch durable. A lone commit (one transaction, nobody queued, waiting or holding
   * the commit lock) runs its fdatasync on this thread: the thread-pool round trip would cost about
   * as much as the fdatasync itself, and no other committer's work could overlap it. It yields to
   * the event loop when INLINE_SYNC_YIELD_MS passed since the last yield, so back-to-back commits
   * never starve I/O and timers (a loop turn per commit cost ~70 µs here). A slow disk must
   * not hold the loop: the inline path is off while the commits' fdatasyncs (inline or not) take
   * more than INLINE_SYNC_TYPICAL_MS on average, and for INLINE_SYNC_BACKOFF_MS after one inline
   * fdatasync took more than INLINE_SYNC_MAX_MS.
   */
  private async syncCommitted(active: ActiveSegment, batchSize: number): Promise<void> {
    const { fd, path } = active.file;
    const alone = batchSize === 1 && this.queue.length === 0 && this.waiting.size === 0 && !this.commitLock.locked;
    const start = performance.now();
    const inline =
      alone && this.options.inlineSync && start >= this.inlineSyncOffUntil && this.syncAverage <= INLINE_SYNC_TYPICAL_MS;
    if (inline) this.io.fdatasyncNow(fd, path);
    else await this.io.fdatasync(fd, path);
    const end = performance.now();
    // every fdatasync feeds the average, so the inline path comes back only once the disk is fast again
    this.syncAverage += (end - start - this.syncAverage) / 32;
    if (!inline) return;
    if (end - start > INLINE_SYNC_MAX_MS) this.inlineSyncOffUntil = end + INLINE_SYNC_BACKOFF_MS;
    if (end - this.lastInlineYield >= INLINE_SYNC_YIELD_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.lastInlineYield = performance.now();
    }
  }

  /** Bytes of a full-size segment zero-filled ahead of time. */
  private preparedSize(): number {
    return Math.ceil(Math.min(this.options.segmentSize, MAX_PREPARED) / PAGE_SIZE) * PAGE_SIZE;
  }

  /**
   * Zero-fills the next segment's file in the background, paced by the commits (it writes a few
   * times the bytes they write: ready before the switch, without competing with them for the disk
   * more than needed). For a segment prepared to its full size, that starts once it is a quarter
   * full. A segment that was not (the first one, one found at open) ramps up: the next one is
   * prepared at once, twice its zero-filled size (at least RAMP_START), and it is left as soon as
   * that one is ready and its own zeros are used up; so the sizes go RAMP_START, 2x, 4x ... up to
   * the full size, and only the first RAMP_START-ish bytes after an open go to space extended by
   * ftruncate.
   */
  private prepareNextSegment(active: ActiveSegment, written: number): void {
    if (this.closed || this.failure) return;
    const seq = active.header.seq + 1;
    let p = this.preparer;
    if (p === null || p.header.seq !== seq) {
      if (p !== null || seq === this.preparationFailed) return;
      const full = this.preparedSize();
      if (active.preparedEnd >= full && active.publishedEnd < this.options.segmentSize * PREPARE_AT) return;
      const size = active.preparedEnd >= full ? full : Math.min(full, Math.ceil(Math.max(RAMP_START, 2 * active.preparedEnd) / PAGE_SIZE) * PAGE_SIZE);
      const header = { seq, gen: 0, coversLo: seq, prevSeq: active.header.seq, databaseId: this.databaseId, flags: SEGMENT_FLAG_SYNC_MARKS, packTid: 0n };
      const created: SegmentPreparer = new SegmentPreparer(this.io, this.options.directory, header, size, (e) => {
        if (this.preparer === created) this.preparer = null;
        this.preparationFailed = seq;
        this.context.logger.warn({ err: (e as Error).message, dir: this.options.directory }, 'filestorage2: could not prepare the next segment');
      });
      this.preparer = p = created;
      p.start();
    }
    p.pace((active.preparedEnd >= this.preparedSize() ? 2 : 3) * written);
  }

  private scheduleBatchSync(): void {
    if (this.batchTimer) return;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = null;
      if (this.flushing) this.syncWanted = true; // the flush loop syncs between two batches
      else void this.syncNow().catch(() => {});
    }, BATCH_SYNC_DELAY_MS);
    this.batchTimer.unref();
  }

  /**
   * fdatasync of the active segment if anything was written since the last one (batch/none modes).
   * The flush loop writes nothing while it runs (see `syncing`).
   */
  private async syncNow(): Promise<void> {
    while (this.syncing) await this.syncing.catch(() => {});
    const active = this.active;
    if (!this.dirtySinceSync || !active || this.failure) return;
    this.dirtySinceSync = false;
    const upTo = active.writtenEnd;
    const run = this.io.fdatasync(active.file.fd, active.file.path).then(
      () => {
        if (upTo > active.syncedEnd) active.syncedEnd = upTo;
      },
      (e: unknown) => {
        this.failStop(e);
        throw this.failure;
      },
    );
    this.syncing = run;
    try {
      await run;
    } finally {
      if (this.syncing === run) this.syncing = null;
    }
  }

  private failStop(e: unknown): void {
    if (this.failure) return;
    this.failure =
      e instanceof StorageIOError ? e : new StorageIOError(`filestorage2 I/O failure: ${(e as Error).message}`, { cause: e });
    this.context.logger.error({ err: this.failure.message, dir: this.options.directory }, 'filestorage2: disk failure, refusing further writes');
  }

  /** Resolves once every queued transaction is written and published. */
  private waitIdle(): Promise<void> {
    if (!this.flushing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ---------------------------------------------------------------- sealing

  /** Seals the active segment now (if it holds any transaction) and starts a new one; resolves once the trailer is durable. */
  async seal(): Promise<void> {
    this.checkWritable();
    while (this.sealing) await this.sealing;
    await this.startSeal();
  }

  /** Runs a seal in the background; the returned promise rejects with its failure. */
  private startSeal(): Promise<void> {
    const run = this.sealRun();
    const settled = run.then(
      () => {},
      () => {},
    );
    this.sealing = settled;
    void settled.finally(() => {
      if (this.sealing === settled) this.sealing = null;
    });
    return run;
  }

  /**
   * Under the commit lock, once every queued transaction is published: commits move on to a new
   * active segment. Then, with the lock released, the old segment's trailer is written in steps
   * while commits go on; the sealed view replaces it in one synchronous step.
   */
  private async sealRun(): Promise<void> {
    let old: ActiveSegment | null = null;
    await this.commitLock.acquire();
    try {
      await this.waitIdle();
      if (this.failure) throw this.failure;
      old = await this.switchActive();
    } finally {
      this.commitLock.release();
    }
    if (!old) return;
    try {
      const sealed = await writeTrailer(this.io, old, this.cache, () => this.failure !== null); // a crash sets failure too
      this.sealed = [...this.sealed, sealed];
      this.frozen = null;
    } catch (e) {
      this.failStop(e);
      throw this.failure ?? e;
    }
  }

  /** Makes a new active segment and freezes the old one (lock held, queue empty); the old one, or null when empty. */
  private async switchActive(): Promise<ActiveSegment | null> {
    const old = this.active;
    if (!old || old.txnCount === 0) return null;
    try {
      // batch and none modes: the old segment's data must be durable before any commit lands in
      // the next one, so that a crash never keeps a later transaction and loses an earlier one
      if (this.syncing) await this.syncing.catch(() => {}); // a timer's fdatasync of this segment
      if (this.failure) throw this.failure;
      if (this.dirtySinceSync) await this.io.fdatasync(old.file.fd, old.file.path);
      this.dirtySinceSync = false;
      const next = (await this.takePrepared(old)) ?? (await createNextSegment(this.io, old, {
        dir: this.options.directory,
        databaseId: this.databaseId,
        preallocChunk: preallocChunk(this.options.segmentSize),
      }));
      if (this.failure) {
        next.file.close(); // crashed while the segment was being created
        throw this.failure;
      }
      next.index.startNewOidsAt(this.nextOid);
      this.frozen = old;
      this.active = next;
      return old;
    } catch (e) {
      this.failStop(e);
      throw this.failure ?? e;
    }
  }

  /** The prepared next segment, published, when it is complete; else the preparation is dropped and null. */
  private async takePrepared(old: ActiveSegment): Promise<ActiveSegment | null> {
    const p = this.preparer;
    if (!p) return null;
    this.preparer = null;
    const ready = p.header.seq === old.header.seq + 1 ? p.take() : null;
    if (!ready) {
      await p.cancel(true);
      return null;
    }
    try {
      return await ActiveSegment.adopt(this.io, this.options.directory, ready.fd, ready.tmp, ready.header, ready.size, preallocChunk(this.options.segmentSize), old.publishedEnd);
    } catch (e) {
      this.io.closeQuietly(ready.fd);
      throw e;
    }
  }

  // ---------------------------------------------------------------- pack

  async pack(packTid: Tid, observer?: PackObserver): Promise<PackResult> {
    this.checkWritable();
    assertU64(packTid, 'packTid');
    if (this.packing) throw new PackInProgressError('a pack is already running on this storage');
    const run = this.packRun(packTid, observer);
    this.packing = run;
    try {
      return await run;
    } catch (e) {
      // a failed directory fsync after the output was renamed into place: what the directory holds after a
      // power loss is unknown, so refuse writes until reopened (a pack output that fails its own fsync is
      // just discarded, and the storage keeps serving)
      if (isDirectorySyncFailure(e)) this.failStop(e);
      throw e;
    } finally {
      this.packing = null;
    }
  }

  private async packRun(requested: Tid, observer: PackObserver | undefined): Promise<PackResult> {
    const packTid = requested < this.lastTid ? requested : this.lastTid;
    const active = this.active;
    if (active && active.txnCount > 0 && active.minTid <= packTid) await this.seal();
    // a seal still writing its trailer: its segment must be an input or hold only later transactions
    while (this.sealing) await this.sealing;
    if (this.failure) throw this.failure;
    const inputs = this.sealed.slice();
    // nothing at or before packTid: no revision can be superseded, nothing to do
    if (inputs.length === 0 || !inputs.some((s) => s.footer.txnCount > 0 && s.footer.minTid <= packTid)) {
      return { removedRevisions: 0, removedObjects: 0, reclaimedBytes: 0 };
    }
    for (const s of inputs) s.file.acquire();
    try {
      const gen = Math.max(...inputs.map((s) => s.header.gen)) + 1;
      const out = await runPack({
        io: this.io,
        dir: this.options.directory,
        inputs,
        includesOldest: true,
        packTid,
        gen,
        databaseId: this.databaseId,
        observer,
        cache: this.cache,
        shouldStop: () => this.closed,
        onPhases: (phases) => this.context.logger.info({ ...phases, dir: this.options.directory }, 'filestorage2: pack phases'),
      });
      // swap: the inputs are the oldest sealed segments (seals only append newer ones)
      const rest = this.sealed.slice(inputs.length);
      this.sealed = out.segment ? [out.segment, ...rest] : rest;
      for (const s of inputs) {
        s.dropCache();
        s.file.retire(() => {
          this.removeRetired(s.file.path);
        });
      }
      return out.result;
    } finally {
      for (const s of inputs) s.file.release();
    }
  }

  private removeRetired(path: string): void {
    if (this.options.readOnly) return;
    const { directory, archivePacked } = this.options;
    try {
      disposeReplaced(this.io, directory, path, archivePacked);
      void syncDisposal(this.io, directory, archivePacked).catch((e: unknown) => {
        // the removals may not be durable: after a failed directory fsync, refuse writes until reopened
        if (isDirectorySyncFailure(e)) this.failStop(e);
      });
    } catch (e) {
      // the file stays; the next open finds it replaced by the pack output and disposes of it then
      this.context.logger.warn({ path, err: (e as Error).message }, 'filestorage2: could not remove or archive a packed segment');
    }
  }

  // ---------------------------------------------------------------- locator secret

  /** The per-database locator secret in `LOCATOR_KEY` (created on first call; null read-only without one). */
  locatorSecret(): Promise<Uint8Array | null> {
    this.checkOpen();
    this.locatorKey ??= loadOrCreateLocatorKey(this.io, this.options.directory, this.options.readOnly).catch((e: unknown) => {
      this.locatorKey = null; // a failed attempt is retried by the next call
      throw e;
    });
    return this.locatorKey;
  }

  // ---------------------------------------------------------------- close

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.current) {
      const txn = this.current.txn;
      await this.tpcAbort(txn);
    }
    if (this.packing) await this.packing.catch(() => {});
    while (this.sealing) await this.sealing;
    await this.waitIdle();
    if (this.preparer) await this.preparer.cancel(true);
    this.preparer = null;
    if (this.batchTimer) {
      clearTimeout(this.batchTimer);
      this.batchTimer = null;
    }
    await this.syncNow().catch(() => {});
    await this.trimActive();
    for (const s of this.sealed) s.file.close();
    this.frozen?.file.close();
    this.active?.file.close();
    this.releaseLock();
  }

  /**
   * Cuts the active segment's unused preallocated tail (a prepared segment has up to `segmentSize`
   * of zeros), so that the next open has no zeros to scan. Best effort: a failure leaves the zeros.
   */
  private async trimActive(): Promise<void> {
    const active = this.active;
    if (!active || this.options.readOnly || this.failure || active.allocatedEnd <= active.publishedEnd) return;
    try {
      this.io.truncate(active.file.fd, active.publishedEnd, active.file.path);
      await this.io.fsync(active.file.fd, active.file.path);
    } catch (e) {
      this.context.logger.warn({ err: (e as Error).message, dir: this.options.directory }, 'filestorage2: could not trim the active segment at close');
    }
  }

  /**
   * Simulates a killed process (for crash tests and conformance harnesses): stops at once without
   * writing, syncing or sealing anything more, closes the files and drops the lock file (a restart
   * takes over a dead owner's lock the same way). Transactions not yet written are lost, as in a crash.
   */
  async simulateCrash(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const dead = new StorageClosedError('filestorage2 storage crashed (simulated)');
    for (const q of this.queue.splice(0)) q.reject(dead);
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    this.failure = new StorageIOError('filestorage2 storage crashed (simulated)');
    // a write or fdatasync under way on the thread pool still holds the descriptor: never close it under them
    if (this.inFlightWrite) await this.inFlightWrite.catch(() => {});
    if (this.syncing) await this.syncing.catch(() => {});
    if (this.preparer) await this.preparer.cancel(false); // its .tmp file stays, as after a real crash
    this.preparer = null;
    for (const s of this.sealed) s.file.close();
    this.frozen?.file.close();
    this.active?.file.close();
    this.releaseLock();
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageClosedError('filestorage2 storage is closed');
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.options.readOnly) throw new ReadOnlyError('filestorage2 storage is read-only');
    if (this.failure) throw this.failure;
  }

  /** Number of sealed segments (diagnostics and tests). */
  get sealedSegmentCount(): number {
    return this.sealed.length;
  }
}

const EMPTY = new Uint8Array(0);

/** oid -> live write, from a transaction's records so far (replaced ones are marked dead). */
function liveWrites(records: readonly PendingWrite[]): Map<OidKey, PendingWrite> {
  const writes = new Map<OidKey, PendingWrite>();
  for (const w of records) if (!w.dead) writes.set(w.key, w);
  return writes;
}

async function yieldToLoop(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Fraction of the segment size after which the next segment is prepared. */
const PREPARE_AT = 0.25;
/** Inline fdatasyncs slower than this (ms) on average turn the inline path off for a while. */
const INLINE_SYNC_TYPICAL_MS = 2;
/** One inline fdatasync slower than this (ms) turns the inline path off for a while. */
const INLINE_SYNC_MAX_MS = 20;
/** Lone commits yield to the event loop when this long (ms) passed since they last did. */
const INLINE_SYNC_YIELD_MS = 1;
/** How long (ms) the inline path stays off after a slow inline fdatasync. */
const INLINE_SYNC_BACKOFF_MS = 1000;
/** Largest part of a segment zero-filled ahead of time (beyond it, space is extended by ftruncate). */
const MAX_PREPARED = 256 * 1024 * 1024;
/** Zero-filled size of the first segment prepared after an open (see prepareNextSegment). */
const RAMP_START = 4 * 1024 * 1024;

function preallocChunk(segmentSize: number): number {
  return Math.min(PREALLOC_CHUNK, Math.ceil(segmentSize / PAGE_SIZE) * PAGE_SIZE);
}
