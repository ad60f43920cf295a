/**
 * The BlobHandlerton on PostgreSQL: a revision is a `blob_revision` row and a list of chunk ids
 * (`blob_revision_chunk`); chunk bytes are `blob_chunk` rows (bytea, STORAGE EXTERNAL), shared by
 * every revision that did not change them. Drafts live in local temporary files (see pg-draft.ts).
 *
 * `prepare` uploads the dirty chunks and writes the revision rows as 'p' (prepared: durable,
 * invisible) in one server transaction; `commit` flips them to 'c' and counts the record references
 * in another. Record references are counted in the database (every client sees them); open readers
 * and the bases of open drafts are counted in this process only, so `reclaim` in one client does not
 * yet know about another client's open readers (see README).
 *
 * With `blobCacheDir` set, committed revisions read here are also kept in the local blob cache
 * (blob-cache.ts): the first read of a revision streams it into a cache file, later reads (by any
 * process sharing the directory) come from a file descriptor instead of the server.
 */
import { tmpdir } from 'node:os';
import {
  assertU64,
  blobCapabilities,
  blobRefsOf,
  HandleClosedError,
  InvalidArgumentError,
  POSKeyError,
  StorageClosedError,
  StorageTransactionError,
  toHex,
} from '@handlerton/framework';
import type {
  BlobCapabilities,
  BlobDraft,
  BlobHandlerton,
  BlobId,
  BlobRef,
  BlobTransaction,
  FileSystem,
  Oid,
  PendingReferences,
  PendingRevision,
  ReclaimResult,
  RevisionReader,
  Tid,
} from '@handlerton/framework';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { ClientLiveness, discardPrepared, publishPrepared, recoverPrepared } from './blob-recovery.js';
import { removeStaleDrafts } from './draft-sweep.js';
import { BlobCache, nameKey, type CachedFile, type CachedRevision } from './blob-cache.js';
import { downloadRevision } from './blob-download.js';
import { blobStatements, type BlobStatements } from './blob-sql.js';
import type { PgOptions } from './options.js';
import { PgDraft, type SealedDraft } from './pg-draft.js';
import { ENGINE_NAME, metaValue } from './pg-storage.js';
import { migrate } from './migrations.js';
import { openPool, sqlState, wrapPgError } from './pool.js';
import { assertStorable, MAX_BIGINT } from './record-codec.js';
import { run, storageStatements } from './storage-sql.js';

/** One blob transaction's drafts, references and, once prepared, what commit must publish. */
interface TxnState {
  readonly drafts: Map<BlobId, PgDraft>;
  /** The blob object (record oid) of each draft, kept with its prepared revision for recovery. */
  readonly oids: Map<BlobId, Oid>;
  readonly refs: BlobRef[];
  prepared: { readonly key: string; readonly pins: string[] } | null;
}

const RECLAIM_BATCH = 500;

const key = (blobId: BlobId, revision: Tid): string => `${blobId}:${revision}`;

/** A durable, chunked, copy-on-write BlobHandlerton in a PostgreSQL schema. */
export class PgBlobs implements BlobHandlerton {
  /** The capability manifest every PgBlobs has. */
  static readonly capabilities: BlobCapabilities = blobCapabilities({
    mode: 'dataTransactional',
    seek: true,
    truncate: true,
    append: true,
    refcount: true,
    partialUpdate: true,
    durable: true,
  });

  readonly name = ENGINE_NAME;
  readonly capabilities = PgBlobs.capabilities;
  readonly chunkSize: number;

  readonly #pool: pg.Pool;
  readonly #sql: BlobStatements;
  readonly #fs: FileSystem;
  readonly #tempDir: string;
  readonly #txns = new Map<BlobTransaction, TxnState>();
  /** Open readers, draft bases and prepared references in this process, by revision: reclaim skips them. */
  readonly #pins = new Map<string, number>();
  #closed = false;
  /** Queries issued through #query and not yet settled (close waits for them before ending the pool). */
  readonly #inflight = new Set<Promise<unknown>>();
  /** The local blob cache (when `blobCacheDir` is set). */
  #cache: BlobCache | undefined;
  /** This client's number and the session holding its liveness lock (set by open). */
  #liveness: ClientLiveness | undefined;

  private constructor(pool: pg.Pool, options: PgOptions, fs: FileSystem) {
    this.#pool = pool;
    this.#sql = blobStatements(options.schema);
    this.#fs = fs;
    this.#tempDir = options.tempDir ?? tmpdir();
    this.chunkSize = options.chunkSize;
  }

  /** Connects and creates or upgrades the schema. */
  static async open(options: PgOptions, fs: FileSystem): Promise<PgBlobs> {
    const pool = openPool(options.url, options.poolSize, options.connectTimeoutMs);
    try {
      await migrate(pool, options.schema);
      const blobs = new PgBlobs(pool, options, fs);
      blobs.#liveness = await ClientLiveness.open(options.url, options.schema, blobs.#sql, pool, options.connectTimeoutMs);
      // Draft files of processes killed on this machine (not awaited by anything else: it never throws).
      await removeStaleDrafts(fs, blobs.#tempDir);
      if (options.blobCacheDir !== undefined) {
        const databaseId = BigInt(await metaValue(pool, storageStatements(options.schema), 'database_id', () => randomBytes(8).readBigUInt64BE(0).toString()));
        blobs.#cache = await BlobCache.open(options.blobCacheDir, options.blobCacheBytes, databaseId, fs, (revisions) => blobs.#present(revisions));
      }
      return blobs;
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw wrapPgError(error, `opening the postgres blob handlerton in schema "${options.schema}"`);
    }
  }

  async createBlob(): Promise<BlobId> {
    this.#checkOpen();
    const [row] = await this.#query<{ id: bigint }>(this.#sql.newBlob, [], 'createBlob');
    return row!.id;
  }

  async openRevision(blobId: BlobId, revision: Tid): Promise<RevisionReader> {
    this.#checkIds(blobId, revision);
    const [row] = blobId > MAX_BIGINT || revision > MAX_BIGINT ? [] : await this.#query<{ size: bigint }>(this.#sql.revision, [blobId, revision], 'openRevision');
    if (row === undefined) throw new POSKeyError(`blob ${toHex(blobId)} has no revision ${toHex(revision)}`, blobId);
    const pin = key(blobId, revision);
    this.#pin(pin);
    const size = Number(row.size);
    let closed = false;
    // The cache file, decided at the first read (so opening a reader for its size downloads nothing).
    let cached: Promise<CachedFile | null> | undefined;
    return {
      size,
      read: async (target, position) => {
        if (closed) throw new HandleClosedError(`reader of blob ${toHex(blobId)} is closed`);
        this.#checkOpen();
        if (!(target instanceof Uint8Array)) throw new InvalidArgumentError('read target must be a Uint8Array');
        if (!Number.isSafeInteger(position) || position < 0) throw new InvalidArgumentError(`read position must be a non-negative safe integer, got ${String(position)}`);
        const cache = this.#cache;
        if (cache !== undefined && position < size) {
          cached ??= cache.acquire(blobId, revision, size, (write) => downloadRevision(this.#pool, this.#sql, this.chunkSize, { blobId, revision, size }, write));
          const file = await cached;
          const count = file === null ? null : await file.read(target, position);
          if (count !== null) return count;
          if (file !== null) cached = Promise.resolve(null);
          // A fill abandoned by close(): the pool is ending, a query queued now would never settle.
          this.#checkOpen();
        }
        return this.#readRevision(blobId, revision, size, target, position);
      },
      close: async () => {
        if (closed) return;
        closed = true;
        this.#unpin(pin);
        await (await cached)?.close();
      },
    };
  }

  async latestRevision(blobId: BlobId): Promise<Tid | null> {
    this.#checkOpen();
    assertU64(blobId, 'blobId');
    if (blobId > MAX_BIGINT) return null;
    const [row] = await this.#query<{ revision: bigint | null }>(this.#sql.latest, [blobId], 'latestRevision');
    return row?.revision ?? null;
  }

  async createDraft(txn: BlobTransaction, blobId: BlobId, oid: Oid, base: Tid | null): Promise<BlobDraft> {
    const state = this.#unprepared(txn);
    assertStorable(blobId, 'blobId');
    assertU64(oid, 'oid');
    let baseContent: { chunks: Map<number, bigint>; size: number } | null = null;
    if (base !== null) {
      assertU64(base, 'base');
      const [row] = base > MAX_BIGINT ? [] : await this.#query<{ size: bigint }>(this.#sql.revision, [blobId, base], 'createDraft');
      if (row === undefined) throw new POSKeyError(`blob ${toHex(blobId)} has no revision ${toHex(base)}`, blobId);
      const chunks = await this.#query<{ idx: number; chunk_id: bigint }>(this.#sql.chunkMap, [blobId, base], 'createDraft');
      baseContent = { chunks: new Map(chunks.map((c) => [c.idx, c.chunk_id])), size: Number(row.size) };
    }
    await state.drafts.get(blobId)?.discard();
    const readBase = async (chunkId: bigint, offset: number, length: number): Promise<Buffer> => {
      const [row] = await this.#query<{ data: Buffer }>(this.#sql.readChunkById, [chunkId, offset + 1, length], 'blob draft read');
      return row?.data ?? Buffer.alloc(0);
    };
    const draft = new PgDraft(blobId, this.chunkSize, baseContent, readBase, this.#fs, this.#tempDir);
    state.drafts.set(blobId, draft);
    state.oids.set(blobId, oid);
    // The base's chunks are shared with the draft: its revision must outlive the draft in this process.
    if (base !== null) this.#pinBase(state, blobId, base);
    return draft;
  }

  async addReferences(txn: BlobTransaction, refs: readonly BlobRef[]): Promise<void> {
    const state = this.#unprepared(txn);
    state.refs.push(...blobRefsOf(this.name, refs));
  }

  async prepare(txn: BlobTransaction, revision: Tid, witness?: Oid): Promise<void> {
    const state = this.#unprepared(txn);
    assertStorable(revision, 'revision');
    if (witness !== undefined) assertStorable(witness, 'witness');
    const txnKey = this.#liveness!.txnKey(randomBytes(12).toString('hex'));
    const staged = new Set(state.drafts.keys());
    const sealed: SealedDraft[] = [...state.drafts.values()].map((d) => d.seal());
    const client = await this.#pool.connect();
    let maxBlob = 0n;
    try {
      await client.query('begin');
      // Referenced revisions must exist (committed, or staged here as this revision).
      const foreign = state.refs.filter((r) => !(r.revision === revision && staged.has(r.blobId)));
      if (foreign.length > 0) {
        const found = await run<{ blob_id: bigint; revision: bigint }>(client, this.#sql.committedAmong, [foreign.map((r) => r.blobId), foreign.map((r) => r.revision)]);
        const present = new Set(found.map((r) => key(r.blob_id, r.revision)));
        const missing = foreign.find((r) => !present.has(key(r.blobId, r.revision)));
        if (missing !== undefined) {
          throw new POSKeyError(`a record references blob ${toHex(missing.blobId)} revision ${toHex(missing.revision)}, which does not exist`, missing.blobId);
        }
      }
      for (const draft of sealed) {
        if (draft.blobId > maxBlob) maxBlob = draft.blobId;
        const indexes: number[] = [];
        const chunkIds: bigint[] = [];
        for (const [index, chunkId] of draft.kept) {
          indexes.push(index);
          chunkIds.push(chunkId);
        }
        for (const index of draft.dirty) {
          const [row] = await run<{ chunk_id: bigint }>(client, this.#sql.insertChunk, [await draft.readDirty(index)]);
          indexes.push(index);
          chunkIds.push(row!.chunk_id);
        }
        await run(client, this.#sql.insertRevision, [draft.blobId, revision, draft.size, txnKey, state.oids.get(draft.blobId) ?? null]);
        if (indexes.length > 0) await run(client, this.#sql.insertRevisionChunks, [draft.blobId, revision, indexes, chunkIds]);
      }
      if (maxBlob > 0n) await run(client, this.#sql.bumpBlobs, [maxBlob]);
      // The references commit will count, durable with the revisions: recovery counts them if this client dies first.
      const counts = countRefs(state.refs);
      if (counts.length > 0) {
        await run(client, this.#sql.insertPendingRefs, [txnKey, counts.map((e) => e.blobId), counts.map((e) => e.revision), counts.map((e) => e.n), revision, witness ?? null]);
      }
      await client.query('commit');
      client.release();
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      client.release();
      if (sqlState(error) === '23505') {
        throw new InvalidArgumentError(`a blob of this transaction already has a revision ${toHex(revision)}`, { cause: error });
      }
      throw wrapPgError(error, `prepare of blob revision ${toHex(revision)}`);
    }
    const pins = state.refs.map((r) => key(r.blobId, r.revision));
    for (const pin of pins) this.#pin(pin);
    state.prepared = { key: txnKey, pins };
  }

  async commit(txn: BlobTransaction): Promise<void> {
    this.#checkOpen();
    const state = this.#txns.get(txn);
    if (state === undefined) return;
    if (state.prepared === null) throw new StorageTransactionError(`blob transaction ${txn.label} was not prepared`);
    const client = await this.#pool.connect();
    try {
      await client.query('begin');
      await publishPrepared(client, this.#sql, state.prepared.key);
      await client.query('commit');
      client.release();
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      client.release();
      throw wrapPgError(error, `commit of blob transaction ${txn.label}`);
    }
    this.#finish(txn, state);
  }

  async rollback(txn: BlobTransaction): Promise<void> {
    const state = this.#txns.get(txn);
    if (state === undefined) return;
    if (state.prepared !== null && !this.#closed) {
      const client = await this.#pool.connect().catch(() => undefined);
      try {
        await client?.query('begin');
        if (client !== undefined) await discardPrepared(client, this.#sql, state.prepared.key);
        await client?.query('commit');
      } catch {
        // Never throws: prepared rows stay invisible ('p') and their references uncounted; recovery decides them once this client is gone.
        await client?.query('rollback').catch(() => undefined);
      } finally {
        client?.release();
      }
    }
    this.#finish(txn, state);
  }

  /** Decides the prepared transactions of clients that died between prepare and commit (never a live client's). */
  async recover(isCommitted: (pending: PendingRevision) => Promise<boolean>, hasCommitted?: (pending: PendingReferences) => Promise<boolean>): Promise<void> {
    this.#checkOpen();
    try {
      await recoverPrepared(this.#pool, this.#sql, this.#liveness!, isCommitted, hasCommitted);
    } catch (error) {
      throw wrapPgError(error, 'recovering prepared blob transactions');
    }
  }

  async releaseReferences(refs: readonly BlobRef[]): Promise<void> {
    this.#checkOpen();
    const ours = blobRefsOf(this.name, refs).filter((r) => r.blobId <= MAX_BIGINT && r.revision <= MAX_BIGINT);
    if (ours.length === 0) return;
    await this.#query(this.#sql.releaseRefs, [ours.map((r) => r.blobId), ours.map((r) => r.revision), ours.map(() => 1)], 'releaseReferences');
  }

  async refcount(blobId: BlobId, revision: Tid): Promise<number> {
    this.#checkIds(blobId, revision);
    if (blobId > MAX_BIGINT || revision > MAX_BIGINT) return 0;
    const [row] = await this.#query<{ record_refs: bigint }>(this.#sql.refcount, [blobId, revision], 'refcount');
    if (row === undefined) return 0;
    return Number(row.record_refs) + (this.#pins.get(key(blobId, revision)) ?? 0);
  }

  async reclaim(): Promise<ReclaimResult> {
    this.#checkOpen();
    let removed = 0;
    let bytes = 0;
    const skipped = new Set<string>();
    for (;;) {
      const candidates = (await this.#query<{ blob_id: bigint; revision: bigint }>(this.#sql.garbage, [RECLAIM_BATCH + skipped.size], 'reclaim'))
        .filter((r) => !skipped.has(key(r.blob_id, r.revision)));
      const doomed = candidates.filter((r) => {
        const pinned = this.#pins.has(key(r.blob_id, r.revision));
        if (pinned) skipped.add(key(r.blob_id, r.revision));
        return !pinned;
      });
      if (doomed.length === 0) return { revisions: removed, bytes };
      const ids = [doomed.map((d) => d.blob_id), doomed.map((d) => d.revision)];
      const client = await this.#pool.connect();
      try {
        await client.query('begin');
        const chunks = (await run<{ chunk_id: bigint }>(client, this.#sql.candidateChunks, ids)).map((c) => c.chunk_id);
        const gone = await run<{ blob_id: bigint; revision: bigint; size: bigint | number | string }>(client, this.#sql.dropRevisions, ids);
        if (chunks.length > 0) await run(client, this.#sql.dropOrphanChunks, [chunks]);
        await client.query('commit');
        removed += gone.length;
        for (const row of gone) bytes += Number(row.size);
        await this.#cache?.remove(gone.map((g) => ({ blobId: g.blob_id, revision: g.revision })));
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw wrapPgError(error, 'reclaim');
      } finally {
        client.release();
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    for (const [txn, state] of [...this.#txns]) {
      // Prepared transactions stay as they are in the database (rows 'p'); unprepared drafts go.
      this.#finish(txn, state);
    }
    this.#closed = true;
    await this.#cache?.close();
    // Queries already queued on the pool finish first (end() would leave them unsettled forever).
    await Promise.allSettled([...this.#inflight]);
    await this.#pool.end().catch(() => undefined);
    // From here other clients may recover this client's prepared transactions.
    await this.#liveness?.close();
  }

  /** Reads `target.length` bytes at `position` of a committed revision, chunk row by chunk row. */
  async #readRevision(blobId: BlobId, revision: Tid, size: number, target: Uint8Array, position: number): Promise<number> {
    const total = Math.max(0, Math.min(target.length, size - position));
    for (let done = 0; done < total; ) {
      const index = Math.floor((position + done) / this.chunkSize);
      const offset = position + done - index * this.chunkSize;
      const count = Math.min(this.chunkSize - offset, total - done);
      const [row] = await this.#query<{ data: Buffer }>(this.#sql.readChunk, [blobId, revision, index, offset + 1, count], 'blob read');
      // No chunk row: a hole (zeros), unless another client reclaimed the revision under this reader.
      if (row === undefined && (await this.#query(this.#sql.revision, [blobId, revision], 'blob read')).length === 0) {
        throw new POSKeyError(`blob ${toHex(blobId)} revision ${toHex(revision)} was reclaimed by another client while this reader was open`, blobId);
      }
      const bytes = row?.data ?? Buffer.alloc(0);
      const got = Math.min(bytes.length, count);
      target.set(bytes.subarray(0, got), done);
      target.fill(0, done + got, done + count);
      done += count;
    }
    return total;
  }

  /** Which of `revisions` are committed on the server (for the cache's sweep of revisions reclaimed elsewhere). */
  async #present(revisions: readonly CachedRevision[]): Promise<ReadonlySet<string>> {
    const found = await this.#query<{ blob_id: bigint; revision: bigint }>(
      this.#sql.committedAmong,
      [revisions.map((r) => r.blobId), revisions.map((r) => r.revision)],
      'blob cache sweep',
    );
    return new Set(found.map((r) => nameKey(r.blob_id, r.revision)));
  }

  #pinBase(state: TxnState, blobId: BlobId, base: Tid): void {
    const pin = key(blobId, base);
    this.#pin(pin);
    basePins.set(state, [...(basePins.get(state) ?? []), pin]);
  }

  /** Drops a transaction: discards its drafts, unpins its bases and prepared references. */
  #finish(txn: BlobTransaction, state: TxnState): void {
    this.#txns.delete(txn);
    for (const draft of state.drafts.values()) void draft.discard();
    for (const pin of state.prepared?.pins ?? []) this.#unpin(pin);
    for (const pin of basePins.get(state) ?? []) this.#unpin(pin);
    basePins.delete(state);
  }

  #pin(pin: string): void {
    this.#pins.set(pin, (this.#pins.get(pin) ?? 0) + 1);
  }

  #unpin(pin: string): void {
    const n = (this.#pins.get(pin) ?? 0) - 1;
    if (n <= 0) this.#pins.delete(pin);
    else this.#pins.set(pin, n);
  }

  /** The state of `txn` (created on first use); StorageTransactionError once it is prepared. */
  #unprepared(txn: BlobTransaction): TxnState {
    this.#checkOpen();
    if (typeof txn !== 'object' || txn === null) throw new InvalidArgumentError('a blob transaction object is required');
    let state = this.#txns.get(txn);
    if (state === undefined) {
      state = { drafts: new Map(), oids: new Map(), refs: [], prepared: null };
      this.#txns.set(txn, state);
    }
    if (state.prepared !== null) throw new StorageTransactionError(`blob transaction ${txn.label} is already prepared`);
    return state;
  }


  #checkIds(blobId: BlobId, revision: Tid): void {
    this.#checkOpen();
    assertU64(blobId, 'blobId');
    assertU64(revision, 'revision');
  }

  async #query<R extends pg.QueryResultRow>(statement: { name: string; text: string }, values: readonly unknown[], what: string): Promise<R[]> {
    // After close() no query starts: pg-pool's end() never settles a query still waiting for a connection.
    this.#checkOpen();
    const pending = run<R>(this.#pool, statement, values);
    this.#inflight.add(pending);
    try {
      return await pending;
    } catch (error) {
      if (this.#closed) throw new StorageClosedError('the postgres blob handlerton is closed');
      throw wrapPgError(error, what);
    } finally {
      this.#inflight.delete(pending);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageClosedError('the postgres blob handlerton is closed');
  }
}

/** The base revisions each open transaction pinned (kept beside TxnState so the state stays a plain record). */
const basePins = new WeakMap<TxnState, string[]>();

/** One count per referenced revision. */
function countRefs(refs: readonly BlobRef[]): { blobId: BlobId; revision: Tid; n: number }[] {
  const counts = new Map<string, { blobId: BlobId; revision: Tid; n: number }>();
  for (const ref of refs) {
    const k = key(ref.blobId, ref.revision);
    const entry = counts.get(k) ?? { blobId: ref.blobId, revision: ref.revision, n: 0 };
    entry.n += 1;
    counts.set(k, entry);
  }
  return [...counts.values()];
}
