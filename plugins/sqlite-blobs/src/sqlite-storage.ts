/**
 * SqliteStorage: the Storage contract on SQLite (kysely-built SQL over better-sqlite3).
 *
 * A transaction's stores are buffered in memory (records are small) and written at `tpcFinish` in
 * one BEGIN IMMEDIATE transaction, synced per the `synchronous` option, so readers never see a
 * partial transaction and nothing of an aborted one ever reaches the file.
 */
import {
  assertU64,
  isU64,
  ConflictError,
  CorruptionError,
  decodeRefs,
  encodeRefs,
  InvalidArgumentError,
  NO_REFS,
  PackInProgressError,
  nextTid,
  POSKeyError,
  StorageClosedError,
  storageCapabilities,
  StorageTransactionError,
  systemClock,
  toHex,
  type Clock,
  type FileSystem,
  type HistoryEntry,
  type IteratedTransaction,
  type LoadedRecord,
  type LoadedRevision,
  type Oid,
  type PackObserver,
  type PackResult,
  type RecordInput,
  type RecordRefs,
  type Storage,
  type StorageCapabilities,
  type StorageTransaction,
  type StoreWrite,
  type Tid,
  oidKey,
  type OidKey,
} from '@handlerton/framework';
import type { EngineStats, EngineVerifyReport, VerifyObserver } from '@handlerton/framework';
import type BetterSqlite3 from 'better-sqlite3';
import { fileStats } from './file-stats.js';
import { yieldToLoop } from './yield.js';
import { CommitLock } from './commit-lock.js';
import { acquireConnection, releaseConnection, type SqliteConnection } from './connection.js';
import type { SqliteOptions } from './options.js';
import { loadOrCreateLocatorKey } from './locator-key.js';
import { encodeOidList } from './oid-list.js';
import { runPack } from './pack.js';
import { SerialCache, type CachedSerial } from './serial-cache.js';
import { checkRecordRow, checkTxnRow, linkChecksum, pointerChecksum, recordChecksum, txnChecksum } from './record-check.js';
import { CURRENT_BATCH, CURRENT_COLUMNS, REVISION_BATCH, REVISION_COLUMNS, storageStatements, type StorageStatements } from './storage-statements.js';
import { iterateTransactions, readHistory } from './storage-queries.js';
import { confirmCurrentMiss, confirmRevisionMiss } from './miss-check.js';
import { currentPointer, revisionAt } from './revision-chain.js';
import { verifyRecordsFile } from './verify-files.js';

/** Engine name of the storage and the blob handlerton. */
export const ENGINE_NAME = 'sqlite-blobs';
/** Largest oid/tid SQLite's signed 64-bit INTEGER can hold. */
export const MAX_SQL_INT = (1n << 63n) - 1n;

/** The storage manifest for a synchronous level (crashSafe only with 'full') and an open mode. */
export function sqliteStorageCapabilities(synchronous: SqliteOptions['synchronous'], readOnly = false): StorageCapabilities {
  return storageCapabilities({
    mvcc: true,
    history: true,
    iterator: true,
    restore: true,
    pack: true,
    externalGC: true,
    undo: false,
    durable: true,
    crashSafe: synchronous === 'full',
    readOnly,
    multiClient: false,
  });
}

interface PendingRecord {
  readonly oid: Oid;
  readonly data: Uint8Array | null;
  readonly refs: Uint8Array | null;
  readonly prevTid: Tid | null;
}

interface ActiveTransaction {
  readonly txn: StorageTransaction;
  readonly tid: Tid;
  readonly extension: string;
  readonly records: Map<OidKey, PendingRecord>;
  voted: boolean;
}

/** Storage on one SQLite file. */
export class SqliteStorage implements Storage {
  readonly name = ENGINE_NAME;
  readonly capabilities: StorageCapabilities;
  readonly databaseId: bigint;
  private readonly lock = new CommitLock();
  private readonly sql: StorageStatements;
  private active: ActiveTransaction | undefined;
  private lastTid: Tid;
  private lastIssued: Tid;
  private nextOid: Oid;
  /** Transactions waiting in tpcBegin for the commit lock, and those aborted while waiting. */
  private readonly waiting = new Set<StorageTransaction>();
  private readonly abandoned = new Set<StorageTransaction>();
  /** Largest oid with a stored revision: anything above it has none. */
  private maxStoredOid: Oid;
  private readonly serials = new SerialCache();
  private packing = false;
  private closed = false;
  /** The locator secret, once asked for. */
  private locatorKey: Promise<Uint8Array | null> | undefined;
  /** See Storage.packHorizon. */
  private horizon: Tid;
  /** Read-only: SQLite's data_version when the newest transaction was last read. */
  private dataVersion: bigint | undefined;
  private dataVersionQuery: BetterSqlite3.Statement | undefined;

  private constructor(
    private readonly conn: SqliteConnection,
    private readonly clock: Clock,
  ) {
    this.capabilities = sqliteStorageCapabilities(conn.options.synchronous, conn.readOnly);
    this.databaseId = conn.databaseId;
    this.sql = storageStatements(conn);
    const newest = this.sql.newestTxn.get();
    // The newest transaction row gives lastTransaction(): a damaged one must not invent a tid.
    if (newest !== undefined) checkTxnRow(conn.file, newest);
    this.lastTid = newest?.tid ?? 0n;
    this.lastIssued = this.lastTid;
    const stored = this.sql.maxOid.get()?.oid;
    // A pack can remove every row of the highest oid: the high-water mark it saved keeps newOid from reusing it.
    const saved = oidHighWater(conn);
    const maxOid = stored === undefined || stored === null ? saved : saved !== undefined && saved > stored ? saved : stored;
    this.nextOid = maxOid === undefined || maxOid === null || maxOid < 1n ? 1n : maxOid + 1n; // oid 0 is the root: never handed out
    this.maxStoredOid = maxOid === undefined || maxOid === null ? -1n : maxOid;
    this.horizon = readMetaBigInt(conn, PACK_HORIZON) ?? 0n;
  }

  /** Opens (creating or upgrading, unless `readOnly`) the storage in `options.location`; `fs` serves its JS file operations. */
  static async open(options: SqliteOptions, clock: Clock = systemClock, fs?: FileSystem): Promise<SqliteStorage> {
    const conn = await acquireConnection(options.location, options, 'records', fs);
    try {
      return new SqliteStorage(conn, clock);
    } catch (error) {
      await releaseConnection(conn);
      throw conn.fail(error, 'opening the storage');
    }
  }

  /** The records file (named by the Database's CorruptionErrors). */
  get location(): string {
    return this.conn.file;
  }

  /** The connection to the records file (tests and diagnostics). */
  get connection(): SqliteConnection {
    return this.conn;
  }

  async newOid(): Promise<Oid> {
    this.checkOpen();
    this.conn.assertWritable('newOid');
    const oid = this.nextOid;
    checkSqlInt(oid, 'oid');
    this.nextOid += 1n;
    return oid;
  }

  async load(oid: Oid): Promise<LoadedRecord> {
    this.checkOpen();
    assertU64(oid, 'oid');
    const row = this.conn.read('load', () => {
      const found = oid > MAX_SQL_INT ? undefined : this.currentRow(oid);
      if (found === undefined && oid <= this.maxStoredOid) confirmCurrentMiss(this.conn, oid);
      return found;
    });
    if (row === undefined || row.deleted !== 0n) throw new POSKeyError(`oid ${toHex(oid)} not found`, oid);
    return loaded(oid, row.tid, row.data, row.refs);
  }

  async loadSerial(oid: Oid, tid: Tid): Promise<LoadedRecord> {
    this.checkOpen();
    assertU64(oid, 'oid');
    assertU64(tid, 'tid');
    const row = this.conn.read('loadSerial', () => {
      const found = oid > MAX_SQL_INT || tid > MAX_SQL_INT ? undefined : this.sql.serial.get({ oid, tid });
      if (found === undefined && oid <= this.maxStoredOid && tid <= MAX_SQL_INT) confirmRevisionMiss(this.conn, oid, tid);
      return found;
    });
    if (row !== undefined) checkRecordRow(this.conn.file, oid, row);
    if (row === undefined || row.deleted !== 0n) throw new POSKeyError(`oid ${toHex(oid)} has no revision ${toHex(tid)}`, oid);
    return loaded(oid, row.tid, row.data, row.refs);
  }

  async loadBefore(oid: Oid, tid: Tid): Promise<LoadedRevision | null> {
    this.checkOpen();
    assertU64(oid, 'oid');
    assertU64(tid, 'tid');
    if (oid > MAX_SQL_INT) throw new POSKeyError(`oid ${toHex(oid)} not found`, oid);
    const bound = tid > MAX_SQL_INT ? MAX_SQL_INT : tid;
    return this.conn.read('loadBefore', () => {
      const found = revisionAt(this.sql, this.conn.file, oid, bound, false);
      if (found === undefined) {
        // A miss is confirmed from both sides of the key before it is answered (a damaged b-tree can misroute).
        if (oid <= this.maxStoredOid) confirmCurrentMiss(this.conn, oid);
        throw new POSKeyError(`oid ${toHex(oid)} not found`, oid);
      }
      if (found === null) return null;
      // The walk read this row in the same synchronous read: it is there unless the b-tree is damaged.
      const row = this.sql.serial.get({ oid, tid: found.tid });
      if (row === undefined) throw new CorruptionError(`oid ${toHex(oid)}: its revision ${toHex(found.tid)} is missing`, this.conn.file);
      checkRecordRow(this.conn.file, oid, row);
      if (row.deleted !== 0n) throw new POSKeyError(`oid ${toHex(oid)} was deleted before ${toHex(tid)}`, oid);
      return { ...loaded(oid, row.tid, row.data, row.refs), nextTid: found.nextTid };
    });
  }

  packHorizon(): Tid {
    this.checkOpen();
    return this.horizon;
  }

  lastTransaction(): Tid {
    if (this.conn.readOnly && !this.closed) this.followWriter();
    return this.lastTid;
  }

  /** Read-only: takes in the transactions another process committed since the last look (cheap when none). */
  private followWriter(): void {
    this.dataVersionQuery ??= this.conn.db.prepare('pragma data_version').pluck();
    const query = this.dataVersionQuery;
    const version = this.conn.read('lastTransaction', () => query.get() as bigint);
    if (version === this.dataVersion) return;
    this.dataVersion = version;
    const newest = this.conn.read('lastTransaction', () => this.sql.newestTxn.get());
    if (newest === undefined) return;
    checkTxnRow(this.conn.file, newest);
    if (newest.tid > this.lastTid) this.lastTid = newest.tid;
    const stored = this.conn.read('lastTransaction', () => this.sql.maxOid.get()?.oid);
    if (stored !== undefined && stored !== null && stored > this.maxStoredOid) this.maxStoredOid = stored;
  }

  /**
   * The engine's own check of the records file (read-only): integrity_check, every row checksum,
   * cross-table consistency, WAL frames SQLite would ignore (verify-files.ts).
   */
  async verify(observer?: VerifyObserver): Promise<EngineVerifyReport> {
    this.checkOpen();
    return verifyRecordsFile(this.conn, observer);
  }

  /** Pages, free pages and WAL size of the records file. */
  async stats(): Promise<EngineStats> {
    this.checkOpen();
    return fileStats(this.conn, 'records');
  }

  async tpcBegin(txn: StorageTransaction, tid?: Tid): Promise<Tid> {
    this.checkOpen();
    this.conn.assertWritable('tpcBegin');
    if (this.active?.txn === txn) throw new StorageTransactionError('tpcBegin: this transaction is already active');
    if (tid !== undefined) {
      assertU64(tid, 'tid');
      checkSqlInt(tid, 'tid');
    }
    if (this.waiting.has(txn)) throw new StorageTransactionError('tpcBegin: this transaction is already waiting to begin');
    const extension = encodeExtension(txn);
    this.waiting.add(txn);
    try {
      await this.conn.throttle();
      await this.lock.acquire();
    } finally {
      this.waiting.delete(txn);
    }
    if (this.abandoned.delete(txn)) {
      this.lock.release();
      throw new StorageTransactionError('tpcBegin: the transaction was aborted while it waited for the commit lock');
    }
    if (this.closed) {
      this.lock.release();
      throw new StorageClosedError('tpcBegin: the storage was closed');
    }
    let chosen: Tid;
    if (tid !== undefined) {
      if (tid <= this.lastTid) {
        this.lock.release();
        throw new InvalidArgumentError(`tpcBegin: tid ${toHex(tid)} must exceed the last transaction ${toHex(this.lastTid)}`);
      }
      chosen = tid;
    } else {
      chosen = nextTid(this.lastIssued > this.lastTid ? this.lastIssued : this.lastTid, this.clock.now());
    }
    if (chosen > this.lastIssued) this.lastIssued = chosen;
    this.active = { txn, tid: chosen, extension, records: new Map(), voted: false };
    return chosen;
  }

  async store(oid: Oid, serial: Tid, record: RecordInput, txn: StorageTransaction): Promise<void> {
    this.storeOne(this.activeFor(txn, 'store'), oid, serial, record);
  }

  async deleteObject(oid: Oid, serial: Tid, txn: StorageTransaction): Promise<void> {
    this.deleteOne(this.activeFor(txn, 'deleteObject'), oid, serial);
  }

  /** The whole batch in one pass: the serials the cache lacks are read in one go (cached statements), then each write is checked. */
  async storeMany(writes: readonly StoreWrite[], txn: StorageTransaction): Promise<void> {
    const active = this.activeFor(txn, 'storeMany');
    const missing = writes.filter((w) => isU64(w.oid) && w.oid <= this.maxStoredOid && w.oid <= MAX_SQL_INT && this.serials.get(w.oid) === undefined);
    if (missing.length > 0) {
      this.conn.read('storeMany', () => {
        for (const { oid } of missing) {
          const row = currentPointer(this.sql, this.conn.file, oid);
          if (row !== undefined) this.serials.set(oid, { tid: row.tid, deleted: row.deleted !== 0n });
        }
      });
    }
    for (const write of writes) {
      if (write.record === null) this.deleteOne(active, write.oid, write.serial);
      else this.storeOne(active, write.oid, write.serial, write.record);
    }
  }

  private storeOne(active: ActiveTransaction, oid: Oid, serial: Tid, record: RecordInput): void {
    assertU64(oid, 'oid');
    assertU64(serial, 'serial');
    checkSqlInt(oid, 'oid');
    checkRecord(record);
    const current = this.currentSerial(oid, 'store');
    if (current === undefined) {
      if (serial !== 0n) throw new ConflictError(oid, undefined, serial, 'the object does not exist');
    } else if (current.deleted) {
      // A deleted object is recreated with serial 0n or with the delete marker's tid (the contract, as ZODB).
      if (serial !== 0n && serial !== current.tid) throw new ConflictError(oid, undefined, serial, 'the object was deleted');
    } else if (serial !== current.tid) {
      throw new ConflictError(oid, current.tid, serial);
    }
    active.records.set(oidKey(oid), {
      oid,
      data: Buffer.from(record.data),
      refs: encodeOptionalRefs(record.refs),
      prevTid: current?.tid ?? null,
    });
    if (oid >= this.nextOid) this.nextOid = oid + 1n;
  }

  private deleteOne(active: ActiveTransaction, oid: Oid, serial: Tid): void {
    assertU64(oid, 'oid');
    assertU64(serial, 'serial');
    const current = oid > MAX_SQL_INT ? undefined : this.currentSerial(oid, 'deleteObject');
    if (current === undefined || current.deleted) throw new POSKeyError(`deleteObject: oid ${toHex(oid)} has no current revision`, oid);
    if (serial !== current.tid) throw new ConflictError(oid, current.tid, serial, 'deleteObject');
    active.records.set(oidKey(oid), { oid, data: null, refs: null, prevTid: current.tid });
  }

  async restore(oid: Oid, record: RecordInput | null, txn: StorageTransaction): Promise<void> {
    const active = this.activeFor(txn, 'restore');
    assertU64(oid, 'oid');
    checkSqlInt(oid, 'oid');
    if (record !== null) checkRecord(record);
    const current = this.currentSerial(oid, 'restore');
    active.records.set(oidKey(oid), {
      oid,
      data: record === null ? null : Buffer.from(record.data),
      refs: record === null ? null : encodeOptionalRefs(record.refs),
      prevTid: current?.tid ?? null,
    });
    if (oid >= this.nextOid) this.nextOid = oid + 1n;
  }

  async tpcVote(txn: StorageTransaction): Promise<void> {
    const active = this.activeFor(txn, 'tpcVote');
    this.conn.check();
    active.voted = true;
  }

  async tpcFinish(txn: StorageTransaction): Promise<Tid> {
    const active = this.activeFor(txn, 'tpcFinish', true);
    const { tid } = active;
    try {
      this.conn.write('tpcFinish', () => {
        const meta = active.txn.meta;
        const oids = encodeOidList(Array.from(active.records.values(), (r) => r.oid));
        this.sql.insertTxn.run({
          tid,
          user: meta.user,
          description: meta.description,
          extension: active.extension,
          oids,
          crc: txnChecksum(tid, meta.user, meta.description, active.extension, oids),
        });
        insertRevisions(this.sql, tid, active.records);
      });
    } catch (error) {
      this.active = undefined;
      this.lock.release();
      throw error;
    }
    let bytes = 0;
    for (const rec of active.records.values()) {
      const oid = rec.oid;
      this.serials.set(oid, { tid, deleted: rec.data === null });
      if (oid > this.maxStoredOid) this.maxStoredOid = oid;
      bytes += (rec.data?.length ?? 0) + (rec.refs?.length ?? 0);
    }
    // Measured: a commit of 100 small records writes about 5 pages (333 KiB) of WAL.
    this.conn.noteWal(bytes + this.conn.pageSize * (3 + Math.ceil(active.records.size / 50)));
    this.lastTid = tid;
    this.active = undefined;
    this.lock.release();
    // the commit ran synchronously: back-to-back commits would otherwise starve timers and I/O
    await yieldToLoop();
    return tid;
  }

  async tpcAbort(txn: StorageTransaction): Promise<void> {
    if (this.waiting.has(txn)) {
      // It gets the lock later: it must give it back at once instead of becoming active.
      this.abandoned.add(txn);
      return;
    }
    if (this.active === undefined || this.active.txn !== txn) return;
    this.active = undefined;
    this.lock.release();
  }

  async history(oid: Oid, size?: number): Promise<HistoryEntry[]> {
    this.checkOpen();
    assertU64(oid, 'oid');
    if (size !== undefined && (!Number.isInteger(size) || size < 1)) {
      throw new InvalidArgumentError(`history: size must be a positive integer, got ${String(size)}`);
    }
    const entries = oid > MAX_SQL_INT ? [] : await readHistory(this.conn, this.sql, oid, size);
    if (entries.length === 0) {
      if (oid <= this.maxStoredOid) this.conn.read('history', () => confirmCurrentMiss(this.conn, oid));
      throw new POSKeyError(`oid ${toHex(oid)} not found`, oid);
    }
    return entries;
  }

  iterator(start?: Tid, stop?: Tid): AsyncIterable<IteratedTransaction> {
    this.checkOpen();
    if (start !== undefined) assertU64(start, 'start');
    if (stop !== undefined) assertU64(stop, 'stop');
    const last = this.lastTransaction();
    const upper = stop === undefined || stop > last ? last : stop;
    return iterateTransactions(this.conn, start ?? 0n, upper);
  }

  async pack(packTid: Tid, observer?: PackObserver): Promise<PackResult> {
    this.checkOpen();
    this.conn.assertWritable('pack');
    assertU64(packTid, 'packTid');
    if (this.packing) {
      throw new PackInProgressError('pack: a pack of this storage is already running');
    }
    this.packing = true;
    try {
      const bound = packTid > this.lastTid ? this.lastTid : packTid;
      saveOidHighWater(this.conn, this.nextOid - 1n);
      // Saved before any row goes: an interrupted pack has already damaged older views.
      if (bound > this.horizon) {
        writeMetaBigInt(this.conn, PACK_HORIZON, bound);
        this.horizon = bound;
      }
      return await runPack(this.conn, this.sql, bound, this.lastTid, observer);
    } finally {
      this.serials.clear();
      this.packing = false;
    }
  }

  /** The per-database locator secret in `<location>-locator.key` (created on first call unless read-only: then null when missing). */
  locatorSecret(): Promise<Uint8Array | null> {
    if (this.closed) return Promise.reject(new StorageClosedError('sqlite storage is closed'));
    this.locatorKey ??= loadOrCreateLocatorKey(this.conn.file, this.conn.fs, this.conn.readOnly).catch((e: unknown) => {
      this.locatorKey = undefined; // a failed attempt is retried by the next call
      throw e;
    });
    return this.locatorKey;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.active !== undefined) {
      this.active = undefined;
      this.lock.release();
    }
    await releaseConnection(this.conn);
  }

  /** The current serial of `oid` (undefined: no revision), from the cache or the database. */
  private currentSerial(oid: Oid, what: string): CachedSerial | undefined {
    if (oid > this.maxStoredOid) return undefined;
    const cached = this.serials.get(oid);
    if (cached !== undefined) return cached;
    const row = this.conn.read(what, () => {
      const found = currentPointer(this.sql, this.conn.file, oid);
      // Writing over a pointer a damaged page hid would cut the object's history: confirm the miss.
      if (found === undefined && oid <= MAX_SQL_INT) confirmCurrentMiss(this.conn, oid);
      return found;
    });
    if (row === undefined) return undefined;
    const found = { tid: row.tid, deleted: row.deleted !== 0n };
    this.serials.set(oid, found);
    return found;
  }

  /** The newest revision row of `oid` (checked), undefined when it has none. */
  private currentRow(oid: Oid): ReturnType<StorageStatements['serial']['get']> {
    const current = currentPointer(this.sql, this.conn.file, oid);
    if (current === undefined) return undefined;
    const row = this.sql.serial.get({ oid, tid: current.tid });
    if (row === undefined || row.deleted !== current.deleted) {
      throw new CorruptionError(`oid ${toHex(oid)}: its current revision ${toHex(current.tid)} is ${row === undefined ? 'missing' : 'not the one recorded'}`, this.conn.file);
    }
    checkRecordRow(this.conn.file, oid, row);
    return row;
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageClosedError('the sqlite storage is closed');
  }

  private activeFor(txn: StorageTransaction, what: string, allowVoted = false): ActiveTransaction {
    this.checkOpen();
    this.conn.assertWritable(what);
    const active = this.active;
    if (active === undefined || active.txn !== txn) {
      throw new StorageTransactionError(`${what}: the transaction is not the active one (call tpcBegin first)`);
    }
    if (active.voted && !allowVoted) throw new StorageTransactionError(`${what}: the transaction has already voted`);
    return active;
  }
}

function loaded(oid: Oid, tid: Tid, data: Uint8Array | null, refs: Uint8Array | null): LoadedRecord {
  return { oid, tid, data: data ?? new Uint8Array(0), refs: refs === null ? NO_REFS : decodeRefs(refs) };
}

function encodeOptionalRefs(refs: RecordRefs): Uint8Array | null {
  return refs.oids.length === 0 && refs.blobs.length === 0 ? null : encodeRefs(refs);
}

function checkSqlInt(value: bigint, what: string): void {
  if (value > MAX_SQL_INT) {
    throw new InvalidArgumentError(`${what} ${value} exceeds 2^63-1, the largest value the sqlite engine stores`);
  }
}

function checkRecord(record: RecordInput): void {
  if (record === null || typeof record !== 'object' || !(record.data instanceof Uint8Array)) {
    throw new InvalidArgumentError('record.data must be a Uint8Array');
  }
  if (record.refs === null || typeof record.refs !== 'object' || !Array.isArray(record.refs.oids) || !Array.isArray(record.refs.blobs)) {
    throw new InvalidArgumentError('record.refs must be { oids: Oid[], blobs: BlobRef[] }');
  }
}

function encodeExtension(txn: StorageTransaction): string {
  try {
    return JSON.stringify(txn.meta.extension ?? {});
  } catch (error) {
    throw new InvalidArgumentError(`transaction extension must be JSON-serialisable: ${(error as Error).message}`);
  }
}

const OID_HIGH_WATER = 'oid_high_water';
const PACK_HORIZON = 'pack_horizon';

/** The highest oid ever handed out, as saved before the last pack (undefined when never saved). */
function oidHighWater(conn: SqliteConnection): bigint | undefined {
  return readMetaBigInt(conn, OID_HIGH_WATER);
}

/** Saves the highest oid handed out so far (before a pack may remove its rows). */
function saveOidHighWater(conn: SqliteConnection, oid: bigint): void {
  if (oid >= 1n) writeMetaBigInt(conn, OID_HIGH_WATER, oid);
}

/** A bigint kept in the meta table, or undefined. */
function readMetaBigInt(conn: SqliteConnection, key: string): bigint | undefined {
  const row = conn.read(key, () => conn.db.prepare('select value from meta where key = ?').get(key)) as { value: string } | undefined;
  return row === undefined ? undefined : BigInt(row.value);
}

/** Sets a bigint in the meta table. */
function writeMetaBigInt(conn: SqliteConnection, key: string, value: bigint): void {
  conn.write(key, () => {
    conn.db.prepare('insert into meta (key, value) values (?, ?) on conflict(key) do update set value = excluded.value').run(key, value.toString());
  });
}

/** Inserts the transaction's revisions, REVISION_BATCH rows per statement and the rest one by one, then points object_current at them. */
function insertRevisions(sql: StorageStatements, tid: Tid, records: ReadonlyMap<OidKey, PendingRecord>): void {
  const batched = records.size - (records.size % REVISION_BATCH);
  const batch: unknown[] = [];
  let i = 0;
  for (const { oid, prevTid, data, refs } of records.values()) {
    const deleted = data === null ? 1 : 0;
    const crc = recordChecksum(oid, tid, deleted, data, refs);
    const link = linkChecksum(oid, tid, prevTid, deleted);
    if (i++ >= batched) {
      sql.insertRevision.run({ oid, tid, prevTid, deleted, data, refs, crc, link });
      continue;
    }
    batch.push(oid, tid, prevTid, deleted, data, refs, crc, link);
    if (batch.length === REVISION_BATCH * REVISION_COLUMNS) {
      sql.insertRevisions.runPositional(batch);
      batch.length = 0;
    }
  }
  const pointed = records.size - (records.size % CURRENT_BATCH);
  i = 0;
  for (const { oid, data } of records.values()) {
    const deleted = data === null ? 1 : 0;
    const crc = pointerChecksum(oid, tid, deleted);
    if (i++ >= pointed) {
      sql.upsertCurrent.run({ oid, tid, deleted, crc });
      continue;
    }
    batch.push(oid, tid, deleted, crc);
    if (batch.length === CURRENT_BATCH * CURRENT_COLUMNS) {
      sql.upsertCurrents.runPositional(batch);
      batch.length = 0;
    }
  }
}
