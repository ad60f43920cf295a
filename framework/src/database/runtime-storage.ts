/**
 * RuntimeStorage: the framework's wrapper around an engine's Storage. It validates every
 * argument, refuses calls after close and calls whose capability is not claimed, and logs
 * commits and packs, so that engines implement only the naive core.
 */
import type { Logger } from '../contracts/context.js';
import { silentLogger } from '../contracts/context.js';
import { InvalidArgumentError, NotSupportedError, StorageClosedError, StorageTransactionError } from '../contracts/errors.js';
import type { Oid, Tid } from '../contracts/ids.js';
import { assertU64, isU64, ROOT_OID } from '../contracts/ids.js';
import type {
  HistoryEntry,
  IteratedTransaction,
  LoadedRecord,
  LoadedRevision,
  PackObserver,
  PackResult,
  RecordInput,
} from '../contracts/records.js';
import type { EngineVerifyReport, VerifyObserver } from '../contracts/verify.js';
import { storeMany, type EngineStats, type Storage, type StorageTransaction, type StoreWrite } from '../contracts/storage.js';
import type { StorageCapabilities } from '../contracts/capabilities.js';
import { CachedReads, readFromEngine } from './cached-reads.js';
import { isCheckedRecord } from './checked-record.js';
import { type CachedRevision, RecordCache, type RecordCacheStats } from './record-cache.js';
import { assertNonNegativeInteger, assertRecordInput, assertTransactionMeta } from '../util/validate.js';

/** Options of a RuntimeStorage. */
export interface RuntimeStorageOptions {
  /** Bound of the record cache in bytes; 0 (the default here) turns it off. */
  readonly recordCacheBytes?: number;
}

/** Wraps a Storage with argument validation, lifecycle checks, logging and the database's record cache. */
export class RuntimeStorage implements Storage {
  readonly #inner: Storage;
  readonly #logger: Logger;
  readonly #cached: CachedReads | undefined;
  #closed = false;

  constructor(inner: Storage, logger: Logger = silentLogger, options: RuntimeStorageOptions = {}) {
    this.#inner = inner;
    this.#logger = logger.child({ storage: inner.name });
    const bytes = options.recordCacheBytes ?? 0;
    assertNonNegativeInteger(bytes, 'recordCacheBytes');
    this.#cached = bytes > 0 ? new CachedReads(inner, new RecordCache(bytes)) : undefined;
  }

  /** The record cache's counters; undefined when the cache is off. */
  recordCacheStats(): RecordCacheStats | undefined {
    return this.#cached?.cache.stats();
  }

  /** The committed revision of `oid` a view at `viewTid` reads when the record cache holds it (no engine call; never to be changed); else undefined. */
  peekAsOf(oid: Oid, viewTid: Tid): CachedRevision | undefined {
    this.#open();
    return this.#cached?.peek(oid, viewTid);
  }

  /**
   * The committed revision of `oid` a view at `viewTid` reads (loadBefore(oid, viewTid + 1) on an
   * MVCC engine, else load), through the record cache; null when there is none or it is deleted.
   */
  async readAsOf(oid: Oid, viewTid: Tid): Promise<LoadedRecord | null> {
    this.#open();
    assertU64(oid, 'oid');
    if (this.#cached !== undefined) return this.#cached.read(oid, viewTid);
    return readFromEngine(this.#inner, oid, viewTid);
  }

  /** The wrapped engine. */
  get engine(): Storage {
    return this.#inner;
  }

  get name(): string {
    return this.#inner.name;
  }

  get capabilities(): StorageCapabilities {
    return this.#inner.capabilities;
  }

  get databaseId(): bigint {
    return this.#inner.databaseId;
  }

  async newOid(): Promise<Oid> {
    this.#open();
    const oid = await this.#inner.newOid();
    if (oid === ROOT_OID) throw new StorageTransactionError(`engine ${this.#inner.name} broke the contract: newOid() returned the root oid 0`);
    return oid;
  }

  async load(oid: Oid): Promise<LoadedRecord> {
    this.#open();
    assertU64(oid, 'oid');
    return this.#inner.load(oid);
  }

  async loadSerial(oid: Oid, tid: Tid): Promise<LoadedRecord> {
    this.#open();
    assertU64(oid, 'oid');
    assertU64(tid, 'tid');
    return this.#inner.loadSerial(oid, tid);
  }

  async loadBefore(oid: Oid, tid: Tid): Promise<LoadedRevision | null> {
    this.#open();
    this.#require('mvcc');
    assertU64(oid, 'oid');
    assertU64(tid, 'tid');
    return this.#inner.loadBefore(oid, tid);
  }

  packHorizon(): Tid {
    this.#open();
    return this.#inner.packHorizon();
  }

  lastTransaction(): Tid {
    this.#open();
    return this.#inner.lastTransaction();
  }

  async tpcBegin(txn: StorageTransaction, tid?: Tid): Promise<Tid> {
    this.#open();
    assertTxn(txn);
    assertTransactionMeta(txn.meta, 'txn.meta', false);
    if (tid !== undefined) {
      this.#require('restore');
      assertU64(tid, 'tid');
    }
    const begun = await this.#inner.tpcBegin(txn, tid);
    this.#cached?.begun(txn, begun);
    return begun;
  }

  async store(oid: Oid, serial: Tid, record: RecordInput, txn: StorageTransaction): Promise<void> {
    this.#open();
    assertU64(oid, 'oid');
    assertU64(serial, 'serial');
    assertRecordInput(record);
    assertTxn(txn);
    await this.#inner.store(oid, serial, record, txn);
    this.#cached?.wrote(txn, oid, record);
  }

  /** Stores and deletes in one batch (the engine's native `storeMany`, else a loop); validates every write first. */
  async storeMany(writes: readonly StoreWrite[], txn: StorageTransaction): Promise<void> {
    this.#open();
    if (!Array.isArray(writes)) throw new InvalidArgumentError('writes must be an array of { oid, serial, record }');
    let deletes = false;
    for (let i = 0; i < writes.length; i++) {
      const write: unknown = writes[i];
      assertStoreWrite(write, i);
      if (write.record === null) deletes = true;
    }
    if (deletes) this.#require('externalGC');
    assertTxn(txn);
    await storeMany(this.#inner, writes, txn);
    this.#cached?.wroteMany(txn, writes);
  }

  async deleteObject(oid: Oid, serial: Tid, txn: StorageTransaction): Promise<void> {
    this.#open();
    this.#require('externalGC');
    assertU64(oid, 'oid');
    assertU64(serial, 'serial');
    assertTxn(txn);
    await this.#inner.deleteObject(oid, serial, txn);
    this.#cached?.wrote(txn, oid, null);
  }

  async restore(oid: Oid, record: RecordInput | null, txn: StorageTransaction): Promise<void> {
    this.#open();
    this.#require('restore');
    assertU64(oid, 'oid');
    if (record !== null) assertRecordInput(record);
    assertTxn(txn);
    await this.#inner.restore(oid, record, txn);
    this.#cached?.wrote(txn, oid, record);
  }

  async tpcVote(txn: StorageTransaction): Promise<void> {
    this.#open();
    assertTxn(txn);
    return this.#inner.tpcVote(txn);
  }

  async tpcFinish(txn: StorageTransaction): Promise<Tid> {
    this.#open();
    assertTxn(txn);
    const tid = this.#cached === undefined ? await this.#inner.tpcFinish(txn) : await this.#cached.finish(txn);
    this.#logger.debug({ tid: tid.toString() }, 'committed');
    return tid;
  }

  async tpcAbort(txn: StorageTransaction): Promise<void> {
    if (this.#closed) return;
    this.#cached?.aborted(txn);
    try {
      await this.#inner.tpcAbort(txn);
    } catch (error) {
      this.#logger.error({ err: String(error) }, 'engine broke the contract: tpcAbort threw');
    }
  }

  async history(oid: Oid, size?: number): Promise<HistoryEntry[]> {
    this.#open();
    this.#require('history');
    assertU64(oid, 'oid');
    if (size !== undefined) assertNonNegativeInteger(size, 'size');
    return this.#inner.history(oid, size);
  }

  iterator(start?: Tid, stop?: Tid): AsyncIterable<IteratedTransaction> {
    const validated = (): AsyncIterable<IteratedTransaction> => {
      this.#open();
      this.#require('iterator');
      if (start !== undefined) assertU64(start, 'start');
      if (stop !== undefined) assertU64(stop, 'stop');
      return this.#inner.iterator(start, stop);
    };
    return {
      async *[Symbol.asyncIterator]() {
        yield* validated();
      },
    };
  }

  async pack(packTid: Tid, observer?: PackObserver): Promise<PackResult> {
    this.#open();
    this.#require('pack');
    assertU64(packTid, 'packTid');
    const started = Date.now();
    const result = await this.#inner.pack(packTid, observer);
    this.#logger.info({ ...result, ms: Date.now() - started }, 'packed');
    return result;
  }

  /** The engine's own figures (`Storage.stats`); empty for engines without them. */
  async stats(): Promise<EngineStats> {
    this.#open();
    return (await this.#inner.stats?.()) ?? {};
  }

  /** The engine's own consistency check (`Storage.verify`); undefined for engines without one. */
  async engineVerify(observer?: VerifyObserver): Promise<EngineVerifyReport | undefined> {
    this.#open();
    return this.#inner.verify?.(observer);
  }

  /** The engine's `sync` (other clients' commits become visible); lastTransaction() for engines without one. */
  async sync(): Promise<Tid> {
    this.#open();
    if (this.#inner.sync === undefined) return this.#inner.lastTransaction();
    return this.#inner.sync();
  }

  /** The engine's per-database locator secret; null when it keeps none. */
  async locatorSecret(): Promise<Uint8Array | null> {
    this.#open();
    return (await this.#inner.locatorSecret?.()) ?? null;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#inner.close();
  }

  #open(): void {
    if (this.#closed) throw new StorageClosedError(`storage ${this.#inner.name} is closed`);
  }

  #require(capability: keyof StorageCapabilities): void {
    if (!this.#inner.capabilities[capability]) throw new NotSupportedError(capability, this.#inner.name);
  }
}

/** Checks `writes[index]` of a storeMany batch (the argument's name is only built for an error). */
function assertStoreWrite(write: unknown, index: number): asserts write is StoreWrite {
  if (typeof write !== 'object' || write === null) throw new InvalidArgumentError(`writes[${index}] must be { oid, serial, record }`);
  const { oid, serial, record } = write as { oid?: unknown; serial?: unknown; record?: unknown };
  if (!isU64(oid)) assertU64(oid, `writes[${index}].oid`);
  if (!isU64(serial)) assertU64(serial, `writes[${index}].serial`);
  // A transaction's own records were checked when it made them.
  if (record !== null && !isCheckedRecord(record as RecordInput)) assertRecordInput(record, `writes[${index}].record`);
}

function assertTxn(txn: unknown): asserts txn is StorageTransaction {
  if (typeof txn !== 'object' || txn === null || typeof (txn as { meta?: unknown }).meta !== 'object') {
    throw new InvalidArgumentError('txn must be a StorageTransaction (see storageTransaction())');
  }
}
