/**
 * The Storage on PostgreSQL: every revision is a row of `object_state` (zoid, tid); the newest row
 * of an oid is its current revision, so MVCC reads are index range scans on the primary key.
 *
 * Several processes (on several machines) may open one schema at once. The commit order is decided
 * by the server: `tpcBegin` takes a transaction-scoped advisory lock (the commit lock, one per
 * schema) on a pinned connection and computes the tid under it from the newest committed tid and
 * the clock, so tids strictly increase across all clients; serials are checked under that lock;
 * `tpcFinish` is the COMMIT that releases it. A client that dies mid-commit loses its session,
 * which rolls back its transaction and drops its lock. Inside one process, commits also queue in
 * a local first-come-first-served lock, so only one pool connection waits on the server's lock.
 */
import { randomBytes } from 'node:crypto';
import {
  assertU64,
  InvalidArgumentError,
  nextTid,
  PackInProgressError,
  POSKeyError,
  StorageClosedError,
  storageCapabilities,
  StorageIOError,
  StorageTransactionError,
  tidToDate,
  toHex,
  ZERO_TID,
} from '@handlerton/framework';
import type {
  BlobRef,
  Clock,
  HistoryEntry,
  Invalidations,
  IteratedRecord,
  IteratedTransaction,
  LoadedRecord,
  LoadedRevision,
  Oid,
  PackObserver,
  PackResult,
  RecordInput,
  Storage,
  StorageCapabilities,
  StorageTransaction,
  StoreWrite,
  Tid,
  TransactionMeta,
} from '@handlerton/framework';
import type pg from 'pg';
import { CommitQueue } from './commit-queue.js';
import { checkParams, revisionColumns, throwFirstFailure, voteStatement, type BufferedWrite, type SerialCheck } from './commit-vote.js';
import { migrate } from './migrations.js';
import type { PgOptions } from './options.js';
import { openPool, wrapPgError } from './pool.js';
import { assertStorable, decodeRecord, DELETED, encodeRecord, MAX_BIGINT } from './record-codec.js';
import { beginCommitText, finishCommitText, run, schemaLockKey, storageStatements, type Statement, type StorageStatements } from './storage-sql.js';

/** The engine name in config and in reports. */
export const ENGINE_NAME = 'postgres';
const INSERT_BATCH = 500;
const ITERATOR_PAGE = 100;
const PACK_BATCH = 500;
const OBSERVER_BATCH = 1000;
/** How many of its own recent commit tids a client remembers to leave out of `invalidationsSince` (older ones are reported: safe). */
const OWN_COMMITS_KEPT = 10_000;

/** The transaction holding the commit lock, with its pinned connection and buffered writes. */
interface ActiveTransaction {
  readonly txn: StorageTransaction;
  readonly tid: Tid;
  readonly meta: TransactionMeta;
  readonly client: pg.PoolClient;
  readonly writes: Map<Oid, BufferedWrite>;
  /** The serial checks of the stores and deletes, in call order: run by the vote statement, under the lock. */
  readonly checks: SerialCheck[];
  voted: boolean;
}

interface StateRow {
  readonly tid: bigint;
  readonly deleted: boolean;
  readonly data: Buffer;
  readonly refs: Buffer;
}

/** A Storage kept in a PostgreSQL schema, shareable by several client processes. */
export class PgStorage implements Storage {
  /** The capability manifest every PgStorage has. */
  static readonly capabilities: StorageCapabilities = storageCapabilities({
    mvcc: true,
    history: true,
    iterator: true,
    restore: true,
    pack: true,
    externalGC: true,
    durable: true,
    multiClient: true,
  });

  readonly name = ENGINE_NAME;
  readonly capabilities = PgStorage.capabilities;
  readonly databaseId: bigint;

  readonly #pool: pg.Pool;
  readonly #sql: StorageStatements;
  readonly #lockKey: number;
  readonly #clock: Clock;
  readonly #beginText: string;
  readonly #finishText: string;
  readonly #vote: Statement;
  readonly #queue = new CommitQueue<StorageTransaction>();
  #lastTid: Tid;
  #lastIssuedTid: Tid;
  #packHorizon: Tid;
  #active: ActiveTransaction | null = null;
  /** Tids this client committed (ascending), not yet older than an `invalidationsSince` call's `since`. */
  #ownCommits: Tid[] = [];
  /** The tid the last `sync` reached (its changes were fetched from here on). */
  #syncedThrough: Tid;
  /** What the last `sync` fetched for the next `invalidationsSince`: the objects other clients changed in (since, tid], each with its newest change. */
  #prefetched: { readonly since: Tid; readonly tid: Tid; readonly changes: readonly (readonly [Oid, Tid])[] } | undefined;
  #packing = false;
  #closed = false;
  /** Queries issued and not settled (close waits for them before it ends the pool). */
  readonly #inflight = new Set<Promise<unknown>>();

  private constructor(pool: pg.Pool, options: PgOptions, clock: Clock, state: { databaseId: bigint; lastTid: Tid; packHorizon: Tid }) {
    this.#pool = pool;
    this.#sql = storageStatements(options.schema);
    this.#lockKey = schemaLockKey(options.schema);
    this.#clock = clock;
    this.#beginText = beginCommitText(options.schema, this.#lockKey, options.lockTimeoutMs, options.releaseBeforeFlush);
    this.#finishText = finishCommitText(options.releaseBeforeFlush);
    this.#vote = voteStatement(options.schema);
    this.databaseId = state.databaseId;
    this.#lastTid = state.lastTid;
    this.#syncedThrough = state.lastTid;
    this.#lastIssuedTid = state.lastTid;
    this.#packHorizon = state.packHorizon;
  }

  /** Connects, creates or upgrades the schema, and reads the database id and the last tid. */
  static async open(options: PgOptions, clock: Clock): Promise<PgStorage> {
    const pool = openPool(options.url, options.poolSize, options.connectTimeoutMs);
    try {
      await migrate(pool, options.schema);
      const sql = storageStatements(options.schema);
      const databaseId = BigInt(await metaValue(pool, sql, 'database_id', () => randomBytes(8).readBigUInt64BE(0).toString()));
      const [last] = await run<{ tid: bigint }>(pool, sql.lastTid);
      const horizon = await run<{ value: string }>(pool, sql.metaGet, ['pack_horizon']);
      return new PgStorage(pool, options, clock, { databaseId, lastTid: last!.tid, packHorizon: BigInt(horizon[0]?.value ?? '0') });
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw wrapPgError(error, `opening the postgres storage in schema "${options.schema}"`);
    }
  }

  async newOid(): Promise<Oid> {
    this.#checkOpen();
    const [row] = await this.#query<{ oid: bigint }>(this.#sql.newOid, [], 'newOid');
    return row!.oid;
  }

  async load(oid: Oid): Promise<LoadedRecord> {
    this.#checkOpen();
    assertU64(oid, 'oid');
    const [row] = oid > MAX_BIGINT ? [] : await this.#query<StateRow>(this.#sql.load, [oid], 'load');
    if (row === undefined || row.deleted) throw new POSKeyError(`oid ${toHex(oid)} does not exist`, oid);
    return { oid, tid: row.tid, ...decodeRecord(row.data, row.refs) };
  }

  async loadSerial(oid: Oid, tid: Tid): Promise<LoadedRecord> {
    this.#checkOpen();
    assertU64(oid, 'oid');
    assertU64(tid, 'tid');
    const [row] = oid > MAX_BIGINT || tid > MAX_BIGINT ? [] : await this.#query<StateRow>(this.#sql.loadSerial, [oid, tid], 'loadSerial');
    if (row === undefined || row.deleted) throw new POSKeyError(`oid ${toHex(oid)} has no revision ${toHex(tid)}`, oid);
    return { oid, tid, ...decodeRecord(row.data, row.refs) };
  }

  async loadBefore(oid: Oid, tid: Tid): Promise<LoadedRevision | null> {
    this.#checkOpen();
    assertU64(oid, 'oid');
    assertU64(tid, 'tid');
    if (oid > MAX_BIGINT) throw new POSKeyError(`oid ${toHex(oid)} does not exist`, oid);
    const before = tid > MAX_BIGINT ? MAX_BIGINT : tid;
    const [row] = await this.#query<StateRow & { next_tid: bigint | null }>(this.#sql.loadBefore, [oid, before], 'loadBefore');
    if (row === undefined) {
      // A miss may be a revision another client's pack removed: learn the horizon that pack raised before
      // its first removal, so the Database answers ReadConflictError for an older view, not "does not exist".
      await this.#refreshPackHorizon();
      const known = await this.#query(this.#sql.exists, [oid], 'loadBefore');
      if (known.length === 0) throw new POSKeyError(`oid ${toHex(oid)} does not exist`, oid);
      return null;
    }
    if (row.deleted) throw new POSKeyError(`oid ${toHex(oid)} was deleted before ${toHex(tid)}`, oid);
    return { oid, tid: row.tid, ...decodeRecord(row.data, row.refs), nextTid: row.next_tid };
  }

  /** Reads the pack horizon other clients may have raised since the last sync. */
  async #refreshPackHorizon(): Promise<void> {
    const [found] = await this.#query<{ value: string }>(this.#sql.metaGet, ['pack_horizon'], 'loadBefore');
    const horizon = BigInt(found?.value ?? '0');
    if (horizon > this.#packHorizon) this.#packHorizon = horizon;
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
    if (tid !== undefined) assertStorable(tid, 'tid');
    if (this.#active?.txn === txn || this.#queue.isWaiting(txn)) throw new StorageTransactionError('this transaction has already begun');
    const meta = copyMeta(txn.meta);
    await this.#queue.acquire(txn);
    // The local lock is ours from here: every way out but success releases it.
    let client: pg.PoolClient | undefined;
    try {
      this.#checkOpen();
      client = await this.#track(this.#pool.connect());
      this.#checkOpen(); // closed while waiting for the connection: release it (below) and fail
      if (this.#queue.wasAbandoned(txn)) throw new StorageTransactionError('the transaction was aborted before it began');
      const results = (await client.query(this.#beginText)) as unknown as pg.QueryResult<{ tid: bigint }>[];
      const committed = results[results.length - 1]!.rows[0]!.tid;
      if (committed > this.#lastTid) this.#lastTid = committed;
      if (tid !== undefined && tid <= committed) {
        throw new InvalidArgumentError(`explicit tid ${toHex(tid)} is not after the last transaction ${toHex(committed)}`);
      }
      const chosen = tid ?? nextTid(committed > this.#lastIssuedTid ? committed : this.#lastIssuedTid, this.#clock.now());
      if (chosen > this.#lastIssuedTid) this.#lastIssuedTid = chosen;
      this.#active = { txn, tid: chosen, meta, client, writes: new Map(), checks: [], voted: false };
      return chosen;
    } catch (error) {
      if (client !== undefined) await releaseAfterRollback(client);
      this.#queue.release();
      throw wrapPgError(error, 'tpcBegin');
    } finally {
      this.#queue.forget(txn);
    }
  }

  async store(oid: Oid, serial: Tid, record: RecordInput, txn: StorageTransaction): Promise<void> {
    await this.storeMany([{ oid, serial, record }], txn);
  }

  async deleteObject(oid: Oid, serial: Tid, txn: StorageTransaction): Promise<void> {
    await this.storeMany([{ oid, serial, record: null }], txn);
  }

  /**
   * Validates and encodes the batch and buffers it with its serial checks: no round trip. The checks
   * run at vote, in the vote's one statement under the commit lock, and a stale serial raises
   * ConflictError there (the contract allows "at store or vote").
   */
  async storeMany(writes: readonly StoreWrite[], txn: StorageTransaction): Promise<void> {
    const active = this.#writing(txn);
    if (!Array.isArray(writes)) throw new InvalidArgumentError('writes must be an array of StoreWrite');
    const encoded = writes.map((write, i) => {
      assertStorable(write.oid, `writes[${i}].oid`);
      assertU64(write.serial, `writes[${i}].serial`);
      return write.record === null ? null : encodeRecord(write.record);
    });
    writes.forEach((write, i) => {
      const row = encoded[i];
      const isDelete = row === null || row === undefined;
      active.checks.push({ oid: write.oid, serial: write.serial, isDelete });
      active.writes.set(write.oid, isDelete ? { deleted: true, row: DELETED } : { deleted: false, row });
    });
  }

  async restore(oid: Oid, record: RecordInput | null, txn: StorageTransaction): Promise<void> {
    const active = this.#writing(txn);
    assertStorable(oid, 'oid');
    active.writes.set(oid, record === null ? { deleted: true, row: DELETED } : { deleted: false, row: encodeRecord(record) });
  }

  async tpcVote(txn: StorageTransaction): Promise<void> {
    const active = this.#writing(txn);
    await this.#sendWrites(active);
  }

  async tpcFinish(txn: StorageTransaction): Promise<Tid> {
    const active = this.#activeFor(txn);
    if (!active.voted) await this.#sendWrites(active);
    try {
      await active.client.query(this.#finishText);
    } catch (error) {
      active.client.release(error instanceof Error ? error : true);
      this.#active = null;
      this.#queue.release();
      throw new StorageIOError(`tpcFinish: the COMMIT of tid ${toHex(active.tid)} failed: ${String(error)}`, { cause: error });
    }
    active.client.release();
    if (active.tid > this.#lastTid) this.#lastTid = active.tid;
    this.#ownCommits.push(active.tid);
    if (this.#ownCommits.length > OWN_COMMITS_KEPT) this.#ownCommits.shift();
    this.#active = null;
    this.#queue.release();
    return active.tid;
  }

  async tpcAbort(txn: StorageTransaction): Promise<void> {
    if (this.#active?.txn === txn) {
      const { client } = this.#active;
      this.#active = null;
      await releaseAfterRollback(client);
      this.#queue.release();
    } else {
      this.#queue.abandon(txn);
    }
  }

  async history(oid: Oid, size = 1): Promise<HistoryEntry[]> {
    this.#checkOpen();
    assertU64(oid, 'oid');
    if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError(`history size must be a positive integer, got ${size}`);
    type Row = { tid: bigint; deleted: boolean; size: number; username: string; description: string; extension: string };
    const rows = oid > MAX_BIGINT ? [] : await this.#query<Row>(this.#sql.history, [oid, Math.min(size, 2 ** 31 - 1)], 'history');
    if (rows.length === 0) throw new POSKeyError(`oid ${toHex(oid)} does not exist`, oid);
    return rows.map((r) => ({
      tid: r.tid,
      time: tidToDate(r.tid),
      user: r.username,
      description: r.description,
      extension: JSON.parse(r.extension) as Record<string, unknown>,
      size: r.deleted ? 0 : Number(r.size),
      deleted: r.deleted,
    }));
  }

  iterator(start: Tid = ZERO_TID, stop?: Tid): AsyncIterable<IteratedTransaction> {
    this.#checkOpen();
    assertU64(start, 'start');
    if (stop !== undefined) assertU64(stop, 'stop');
    // A snapshot: nothing committed after this call.
    const last = this.#lastTid;
    const bound = stop === undefined || stop > last ? last : stop;
    const from = start;
    return {
      [Symbol.asyncIterator]: () => this.#iterate(from, bound),
    };
  }

  async *#iterate(start: Tid, stop: Tid): AsyncGenerator<IteratedTransaction> {
    type TxnRow = { tid: bigint; username: string; description: string; extension: string; packed: boolean };
    let from = start > MAX_BIGINT ? MAX_BIGINT : start;
    if (start > stop) return;
    for (;;) {
      const page = await this.#query<TxnRow>(this.#sql.txnPage, [from, stop, ITERATOR_PAGE], 'iterator');
      for (const t of page) {
        const rows = await this.#query<{ zoid: bigint; deleted: boolean; data: Buffer; refs: Buffer }>(this.#sql.txnRecords, [t.tid], 'iterator');
        const records: IteratedRecord[] = rows.map((r) => ({ oid: r.zoid, tid: t.tid, record: r.deleted ? null : decodeRecord(r.data, r.refs) }));
        yield {
          tid: t.tid,
          status: t.packed ? 'p' : ' ',
          meta: { user: t.username, description: t.description, extension: JSON.parse(t.extension) as Record<string, unknown> },
          records,
        };
      }
      if (page.length < ITERATOR_PAGE) return;
      from = page[page.length - 1]!.tid + 1n;
    }
  }

  async pack(packTid: Tid, observer?: PackObserver): Promise<PackResult> {
    this.#checkOpen();
    assertU64(packTid, 'packTid');
    if (this.#packing) throw new PackInProgressError('a pack is already running');
    this.#packing = true;
    let lockClient: pg.PoolClient | undefined;
    try {
      lockClient = await this.#track(this.#pool.connect());
      const [lock] = await run<{ locked: boolean }>(lockClient, this.#sql.packLock, [this.#lockKey]);
      if (lock?.locked !== true) throw new PackInProgressError('a pack is already running (in another client)');
      try {
        return await this.#packUnder(packTid, observer);
      } finally {
        await run(lockClient, this.#sql.packUnlock, [this.#lockKey]).catch(() => undefined);
      }
    } catch (error) {
      throw wrapPgError(error, 'pack');
    } finally {
      lockClient?.release();
      this.#packing = false;
    }
  }

  async #packUnder(packTid: Tid, observer: PackObserver | undefined): Promise<PackResult> {
    const [last] = await this.#track(run<{ tid: bigint }>(this.#pool, this.#sql.lastTid));
    const cutoff = packTid < last!.tid ? packTid : last!.tid;
    // Raised (and kept) before the first removal: reads of older views during the pack already see it.
    await this.#track(run(this.#pool, this.#sql.metaRaise, ['pack_horizon', cutoff.toString()]));
    if (cutoff > this.#packHorizon) this.#packHorizon = cutoff;
    let removedRevisions = 0;
    let removedObjects = 0;
    let reclaimedBytes = 0;
    let after = -1n;
    for (;;) {
      this.#checkOpen();
      const batch = (await this.#track(run<{ zoid: bigint }>(this.#pool, this.#sql.packOids, [after, cutoff, PACK_BATCH]))).map((r) => r.zoid);
      if (batch.length === 0) break;
      after = batch[batch.length - 1]!;
      const blobRefs: BlobRef[] = [];
      const client = await this.#track(this.#pool.connect());
      try {
        await client.query('begin');
        // Under the commit lock: a commit never sees half of a batch, and serial checks stay exact.
        await run(client, this.#sql.commitLock, [this.#lockKey]);
        const gone = await run<{ zoid: bigint; tid: bigint; refs: Buffer; size: number }>(client, this.#sql.packDelete, [batch, cutoff]);
        if (gone.length > 0) {
          const touched = [...new Set(gone.map((g) => g.zoid))];
          const left = new Set((await run<{ zoid: bigint }>(client, this.#sql.remaining, [touched])).map((r) => r.zoid));
          removedObjects += touched.filter((oid) => !left.has(oid)).length;
          const tids = [...new Set(gone.map((g) => g.tid))];
          await run(client, this.#sql.markPacked, [tids]);
          await run(client, this.#sql.dropEmptyTxns, [tids]);
          for (const g of gone) {
            removedRevisions += 1;
            reclaimedBytes += Number(g.size);
            blobRefs.push(...decodeRecord(Buffer.alloc(0), g.refs).refs.blobs);
          }
        }
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
      for (let i = 0; i < blobRefs.length; i += OBSERVER_BATCH) await observer?.releaseBlobRefs(blobRefs.slice(i, i + OBSERVER_BATCH));
    }
    return { removedRevisions, removedObjects, reclaimedBytes };
  }

  async locatorSecret(): Promise<Uint8Array | null> {
    this.#checkOpen();
    try {
      const value = await metaValue(this.#pool, this.#sql, 'locator_secret', () => randomBytes(32).toString('base64'));
      return new Uint8Array(Buffer.from(value, 'base64'));
    } catch (error) {
      throw wrapPgError(error, 'locatorSecret');
    }
  }

  /**
   * Learns the newest commit and pack horizon of every client, and fetches in the same round trip the
   * objects other clients changed since the previous sync: the Database's next `invalidationsSince`
   * (its poll at the first read of the transaction it is starting) is then answered without a query.
   */
  async sync(): Promise<Tid> {
    this.#checkOpen();
    const since = this.#syncedThrough;
    const own = this.#ownCommits.filter((t) => t > since);
    const rows = await this.#query<{ tid: bigint; horizon: string | null; zoid: bigint | null; changed: bigint | null }>(this.#sql.sync, [since, own], 'sync');
    const { tid, horizon } = rows[0]!;
    if (tid > this.#lastTid) this.#lastTid = tid;
    const packHorizon = BigInt(horizon ?? '0');
    if (packHorizon > this.#packHorizon) this.#packHorizon = packHorizon;
    if (tid > since) {
      const changes: [Oid, Tid][] = [];
      for (const r of rows) if (r.zoid !== null && r.changed !== null) changes.push([r.zoid, r.changed]);
      this.#prefetched = { since, tid, changes };
      this.#syncedThrough = tid;
    } else {
      this.#prefetched = { since, tid: since, changes: [] };
    }
    return this.#lastTid;
  }

  /**
   * Every object changed by a transaction another client committed after `since`, up to the newest
   * commit (as the contract asks: this client's own commits are left out, the Database's record cache
   * already holds what they wrote; a commit older than the last OWN_COMMITS_KEPT is reported anyway).
   * Answered from the last `sync` when that covered `since` (then "up to" that sync's newest commit:
   * history up to a committed tid never changes); otherwise one query.
   */
  async invalidationsSince(since: Tid): Promise<Invalidations> {
    this.#checkOpen();
    assertU64(since, 'since');
    // Own tids at or below `since` are never asked about again by a caller whose `since` only grows.
    const firstNewer = this.#ownCommits.findIndex((own) => own > since);
    this.#ownCommits = firstNewer < 0 ? [] : this.#ownCommits.slice(firstNewer);
    const prefetched = this.#prefetched;
    this.#prefetched = undefined;
    if (prefetched !== undefined && since >= prefetched.since) {
      if (prefetched.tid <= since) return { tid: since, oids: [] };
      const oids: Oid[] = [];
      for (const [oid, changed] of prefetched.changes) if (changed > since) oids.push(oid);
      return { tid: prefetched.tid, oids };
    }
    // One round trip: the newest tid and what changed up to it (own tids above it match nothing).
    const rows = await this.#query<{ tid: bigint; zoid: bigint | null }>(
      this.#sql.changedSinceLast,
      [since > MAX_BIGINT ? MAX_BIGINT : since, this.#ownCommits],
      'invalidationsSince',
    );
    const tid = rows[0]!.tid;
    if (tid > this.#lastTid) this.#lastTid = tid;
    if (tid <= since) return { tid: since, oids: [] };
    const oids: Oid[] = [];
    for (const r of rows) if (r.zoid !== null) oids.push(r.zoid);
    return { tid, oids };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const active = this.#active;
    this.#active = null;
    if (active !== null) await releaseAfterRollback(active.client);
    this.#queue.close();
    // Queries already queued on the pool finish first: pg-pool's end() never settles one still waiting for a connection.
    await Promise.allSettled([...this.#inflight]);
    await this.#pool.end().catch(() => undefined);
  }

  /**
   * Checks every buffered serial and inserts the transaction row, the first batch of revisions and the
   * oid sequence in one statement (nothing inserted when a check fails); larger transactions add a
   * statement per further batch. Errors surface here, before finish.
   */
  async #sendWrites(active: ActiveTransaction): Promise<void> {
    active.voted = true;
    try {
      const { meta, client, tid } = active;
      const entries = [...active.writes];
      let maxOid = 0n;
      for (const [oid] of entries) if (oid > maxOid) maxOid = oid;
      const [oids, deleted, data, refs] = revisionColumns(entries.slice(0, INSERT_BATCH));
      const failed = await run<{ i: bigint | null; cur_tid: bigint | null; cur_deleted: boolean | null }>(client, this.#vote, [
        oids, tid, deleted, data, refs, meta.user, meta.description, JSON.stringify(meta.extension), maxOid, ...checkParams(active.checks),
      ]);
      throwFirstFailure(failed, active.checks);
      for (let i = INSERT_BATCH; i < entries.length; i += INSERT_BATCH) {
        const [o, d, v, r] = revisionColumns(entries.slice(i, i + INSERT_BATCH));
        await run(client, this.#sql.insertStates, [o, tid, d, v, r]);
      }
    } catch (error) {
      throw wrapPgError(error, `tpcVote of tid ${toHex(active.tid)}`);
    }
  }

  /** `operation` on the pool, counted as in flight until it settles (close waits for it). */
  async #track<T>(operation: Promise<T>): Promise<T> {
    this.#inflight.add(operation);
    try {
      return await operation;
    } finally {
      this.#inflight.delete(operation);
    }
  }

  async #query<R extends pg.QueryResultRow>(statement: { name: string; text: string }, values: readonly unknown[], what: string, client?: pg.PoolClient): Promise<R[]> {
    // After close() no query starts on the pool (close waits for those already issued).
    if (client === undefined) this.#checkOpen();
    try {
      return await this.#track(run<R>(client ?? this.#pool, statement, values));
    } catch (error) {
      if (this.#closed) throw new StorageClosedError('the postgres storage is closed');
      throw wrapPgError(error, what);
    }
  }

  /** The active transaction if it is `txn` and has not voted yet. */
  #writing(txn: StorageTransaction): ActiveTransaction {
    const active = this.#activeFor(txn);
    if (active.voted) throw new StorageTransactionError('the transaction has already voted');
    return active;
  }

  /** The active transaction if it is `txn`. */
  #activeFor(txn: StorageTransaction): ActiveTransaction {
    this.#checkOpen();
    if (this.#active === null || this.#active.txn !== txn) {
      throw new StorageTransactionError('the transaction is not the one committing in this storage');
    }
    return this.#active;
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageClosedError('the postgres storage is closed');
  }
}

/** Reads a meta value, creating it with `initial()` first when missing (first writer wins across clients). */
export async function metaValue(pool: pg.Pool, sql: StorageStatements, key: string, initial: () => string): Promise<string> {
  const [found] = await run<{ value: string }>(pool, sql.metaGet, [key]);
  if (found !== undefined) return found.value;
  await run(pool, sql.metaInit, [key, initial()]);
  const [created] = await run<{ value: string }>(pool, sql.metaGet, [key]);
  return created!.value;
}

/** Rolls back and returns a pinned connection to the pool (destroying it when the rollback fails). */
async function releaseAfterRollback(client: pg.PoolClient): Promise<void> {
  try {
    await client.query('rollback');
    client.release();
  } catch (error) {
    client.release(error instanceof Error ? error : true);
  }
}

/** A private copy of transaction metadata. */
function copyMeta(meta: TransactionMeta): TransactionMeta {
  return { user: meta.user, description: meta.description, extension: JSON.parse(JSON.stringify(meta.extension)) as Record<string, unknown> };
}
