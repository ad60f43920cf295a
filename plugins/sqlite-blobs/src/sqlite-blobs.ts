/**
 * SqliteBlobs: a BlobHandlerton that stores blob revisions as fixed-size chunks in SQLite, sharing
 * unchanged chunks between revisions (partial updates copy one chunk, not the blob).
 *
 * Drafts are uncommitted rows (state 'draft') owned by one blob transaction; `prepare` turns them
 * into 'prepared' rows and records the transaction's reference changes, in one synced commit;
 * `commit` publishes them ('committed') and counts the references; `rollback` deletes them.
 * Record references are persistent counts; open readers are counted in memory and defer reclaim.
 */
import { randomUUID } from 'node:crypto';
import {
  assertU64,
  blobCapabilities,
  POSKeyError,
  silentLogger,
  StorageClosedError,
  StorageTransactionError,
  TransactionClosedError,
  toHex,
  type BlobCapabilities,
  type BlobDraft,
  type BlobHandlerton,
  type BlobId,
  type BlobRef,
  type BlobTransaction,
  type FileSystem,
  type Logger,
  type Oid,
  type PendingRevision,
  type PendingReferences,
  type RevisionReader,
  type Tid,
} from '@handlerton/framework';
import type { EngineStats, EngineVerifyReport, ReclaimResult, VerifyObserver } from '@handlerton/framework';
import { fileStats } from './file-stats.js';
import { SqliteDraft } from './blob-draft.js';
import { blobStatements, type BlobStatements } from './blob-statements.js';
import { ChunkStore, type ChainLevel } from './chunk-store.js';
import { acquireConnection, releaseConnection, type SqliteConnection } from './connection.js';
import type { SqliteOptions } from './options.js';
import { SqliteRevisionReader } from './revision-reader.js';
import { ENGINE_NAME, MAX_SQL_INT } from './sqlite-storage.js';
import { yieldToLoop } from './yield.js';
import { verifyBlobsFile } from './verify-files.js';

/** A draft whose base chain would grow longer than this starts with a flattened (complete) chunk map. */
export const MAX_CHAIN_DEPTH = 8;

/** Drafts that wrote at least this much get their WAL flushed from the thread pool before prepare's fsync. */
const PRESYNC_THRESHOLD = 4 * 1024 * 1024;
/** How many of the newest revision rows `newestRevision` looks at. */
const NEWEST_REVISION_WINDOW = 64;

/** The blob manifest of the SQLite handlerton. */
export const SQLITE_BLOB_CAPABILITIES: BlobCapabilities = blobCapabilities({
  mode: 'dataTransactional',
  seek: true,
  truncate: true,
  append: true,
  refcount: true,
  partialUpdate: true,
  durable: true,
});

interface TxnState {
  readonly token: string;
  readonly drafts: Map<BlobId, SqliteDraft>;
  readonly refs: Map<string, { blobId: BlobId; revision: Tid; count: number }>;
  prepared: boolean;
}

/** Chunked blob storage in one SQLite file. */
export class SqliteBlobs implements BlobHandlerton {
  readonly name = ENGINE_NAME;
  readonly capabilities = SQLITE_BLOB_CAPABILITIES;
  private readonly chunks: ChunkStore;
  private readonly sql: BlobStatements;
  private readonly txns = new Map<BlobTransaction, TxnState>();
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly conn: SqliteConnection,
    private readonly chunkSize: number,
    private readonly logger: Logger,
  ) {
    this.chunks = new ChunkStore(conn);
    this.sql = blobStatements(conn);
  }

  /** Opens the blob handlerton on the blob file of `options.location` (`<location>-blobs`); `fs` serves its JS file operations. */
  static async open(options: SqliteOptions, logger: Logger = silentLogger, fs?: FileSystem): Promise<SqliteBlobs> {
    const conn = await acquireConnection(options.location, options, 'blobs', fs);
    try {
      // Read-only: drafts of a dead process stay for the writer's next open to drop.
      if (!conn.blobsRecovered && !conn.readOnly) {
        conn.blobsRecovered = true;
        await dropDeadDrafts(conn);
      }
      return new SqliteBlobs(conn, options.chunkSize, logger);
    } catch (error) {
      await releaseConnection(conn);
      throw conn.fail(error, 'opening the blob handlerton');
    }
  }

  /** The shared connection (tests and diagnostics). */
  get connection(): SqliteConnection {
    return this.conn;
  }

  /** The blob database file (named by the Database when a committed record references a revision it lacks). */
  get location(): string {
    return this.conn.file;
  }

  /** The newest revision among the last NEWEST_REVISION_WINDOW revision rows made (by row id: no scan). */
  async newestRevision(): Promise<Tid | null> {
    this.checkOpen();
    const query = this.conn.query('b.newestRevision', (k) =>
      k.selectFrom((e) =>
        e.selectFrom('blob_revision').select('revision').where('state', 'in', ['committed', 'retired']).orderBy('id', 'desc').limit(NEWEST_REVISION_WINDOW).as('recent'),
      ).select((e) => e.fn.max('revision').as('revision')),
    );
    const row = this.conn.read('newestRevision', () => query.get());
    return row?.revision ?? null;
  }

  /** The database id of the blob file. */
  get databaseId(): bigint {
    return this.conn.databaseId;
  }

  async createBlob(): Promise<BlobId> {
    this.checkWritable('createBlob');
    // Not synced on its own: an id matters only once a prepared revision (a synced commit) uses it.
    return this.conn.writeRelaxedQueued('createBlob', () => this.sql.insertBlob.run({ created: Date.now() }).lastInsertRowid);
  }

  async openRevision(blobId: BlobId, revision: Tid): Promise<RevisionReader> {
    this.checkOpen();
    const row = this.committedRow(blobId, revision);
    if (row === undefined) throw new POSKeyError(`blob ${toHex(blobId)} has no revision ${toHex(revision)}`, blobId);
    const id = row.id;
    const readers = this.conn.openReaders;
    readers.set(id, (readers.get(id) ?? 0) + 1);
    const chain = this.loadChain(id);
    const onClose = (): void => {
      const left = (readers.get(id) ?? 1) - 1;
      if (left <= 0) readers.delete(id);
      else readers.set(id, left);
    };
    return new SqliteRevisionReader(this.chunks, chain, Number(row.size), Number(row.chunk_size), onClose, { blobId, revision });
  }

  /**
   * The engine's own check of the blobs file (read-only): integrity_check, every row checksum,
   * cross-table consistency, WAL frames SQLite would ignore (verify-files.ts).
   */
  async verify(observer?: VerifyObserver): Promise<EngineVerifyReport> {
    this.checkOpen();
    return verifyBlobsFile(this.conn, observer);
  }

  /** Pages, free pages and WAL size of the blobs file. */
  async stats(): Promise<EngineStats> {
    this.checkOpen();
    return fileStats(this.conn, 'blobs');
  }

  async latestRevision(blobId: BlobId): Promise<Tid | null> {
    this.checkOpen();
    assertU64(blobId, 'blobId');
    if (blobId > MAX_SQL_INT) return null;
    return this.conn.read('latestRevision', () => this.sql.latest.get({ blob: blobId })?.revision ?? null);
  }

  async createDraft(txn: BlobTransaction, blobId: BlobId, oid: Oid, base: Tid | null): Promise<BlobDraft> {
    this.checkWritable('createDraft');
    assertU64(blobId, 'blobId');
    assertU64(oid, 'oid');
    const state = this.stateOf(txn);
    if (state.prepared) throw new StorageTransactionError('createDraft: the blob transaction is already prepared');
    const previous = state.drafts.get(blobId);
    if (previous !== undefined) {
      state.drafts.delete(blobId);
      await this.discardDraft(previous);
    }
    if (blobId > MAX_SQL_INT || oid > MAX_SQL_INT) throw new POSKeyError(`blob ${toHex(blobId)} cannot exist in the sqlite engine`, blobId);
    // The base is looked up inside the same write as the insert, so a concurrent reclaim (queued in
    // the same lane) cannot take it away in between.
    const { rowId, chunkSize, size, baseChain, flatten, recorded } = await this.conn.writeRelaxedQueued('createDraft', () => {
      let baseRow: { id: bigint; size: bigint; chunk_size: bigint; depth: bigint } | undefined;
      if (base !== null) {
        baseRow = this.committedRow(blobId, base);
        if (baseRow === undefined) throw new POSKeyError(`blob ${toHex(blobId)} has no revision ${toHex(base)}`, blobId);
      }
      const chunkSize = baseRow === undefined ? this.chunkSize : Number(baseRow.chunk_size);
      const size = baseRow === undefined ? 0 : Number(baseRow.size);
      // A draft reads unchanged chunks through its base; a chain that would grow too deep is flattened.
      const baseChain = baseRow === undefined ? [] : this.loadChain(baseRow.id);
      const flatten = baseRow !== undefined && Number(baseRow.depth) + 1 > MAX_CHAIN_DEPTH;
      // A flattened map cannot tell the unrecorded holes of a pre-0004 level: it reads them as zeros too.
      const recorded = !flatten || baseChain.every((level) => level.recorded);
      this.sql.ensureBlob.run({ id: blobId, created: Date.now() });
      const id = this.sql.insertDraft.run({
        blob: blobId,
        oid,
        size,
        chunkSize,
        token: state.token,
        base: baseRow === undefined || flatten ? null : baseRow.id,
        baseLimit: size,
        depth: baseRow === undefined || flatten ? 0 : Number(baseRow.depth) + 1,
        holes: recorded ? 1 : 0,
      }).lastInsertRowid;
      if (flatten) this.chunks.flattenInto(baseChain, id, chunkSize);
      return { rowId: id, chunkSize, size, baseChain, flatten, recorded };
    });
    const chain: ChainLevel[] = [{ id: rowId, limit: Infinity, recorded, hasHoles: flatten && this.chunks.hasHoles(rowId) }];
    if (!flatten) for (const level of baseChain) chain.push({ ...level, limit: Math.min(level.limit, size) });
    const draft = new SqliteDraft(this.chunks, blobId, chain, chunkSize, size);
    state.drafts.set(blobId, draft);
    return draft;
  }

  async addReferences(txn: BlobTransaction, refs: readonly BlobRef[]): Promise<void> {
    this.checkWritable('addReferences');
    const state = this.stateOf(txn);
    const mine = refs.filter((ref) => ref.handlerton === this.name);
    for (const ref of mine) {
      assertU64(ref.blobId, 'blobId');
      assertU64(ref.revision, 'revision');
      const key = `${ref.blobId}:${ref.revision}`;
      const entry = state.refs.get(key);
      if (entry === undefined) state.refs.set(key, { blobId: ref.blobId, revision: ref.revision, count: 1 });
      else entry.count += 1;
    }
    if (state.prepared && mine.length > 0) {
      await this.conn.writeQueued('addReferences', () => {
        for (const ref of mine) this.addPendingRef(state.token, ref.blobId, ref.revision, 1);
      });
    }
  }

  async prepare(txn: BlobTransaction, revision: Tid, witness?: Oid): Promise<void> {
    this.checkWritable('prepare');
    assertU64(revision, 'revision');
    if (witness !== undefined) assertU64(witness, 'witness');
    const state = this.stateOf(txn);
    if (state.prepared) throw new StorageTransactionError('prepare: the blob transaction is already prepared');
    for (const draft of state.drafts.values()) await draft.flush();
    if ([...state.drafts.values()].some((d) => d.bytesWritten >= PRESYNC_THRESHOLD)) await this.conn.presync();
    await this.conn.writeQueued('prepare', () => {
      this.sql.insertBlobTxn.run({ token: state.token, tid: revision, witness: witness === undefined || witness > MAX_SQL_INT ? null : witness });
      for (const draft of state.drafts.values()) {
        this.sql.prepareRow.run({ id: draft.rowId, revision, size: draft.size() });
      }
      for (const ref of state.refs.values()) this.addPendingRef(state.token, ref.blobId, ref.revision, ref.count);
    });
    state.prepared = true;
  }

  async commit(txn: BlobTransaction): Promise<void> {
    this.checkWritable('commit');
    const state = this.txns.get(txn);
    if (state === undefined) return;
    if (!state.prepared) {
      if (state.drafts.size > 0) throw new StorageTransactionError('commit: the blob transaction has drafts but was not prepared');
      await this.conn.writeQueued('commit', () => {
        for (const ref of state.refs.values()) this.sql.addRefcount.run({ blob: ref.blobId, revision: ref.revision, count: ref.count });
      });
    } else {
      // Not synced on its own: if power loss drops it, the revisions stay prepared (synced at
      // prepare) and recover() publishes them, because the storage transaction is durable.
      await this.conn.writeRelaxedQueued('commit', () => this.publish(state.token));
    }
    this.txns.delete(txn);
    for (const draft of state.drafts.values()) draft.close();
  }

  async rollback(txn: BlobTransaction): Promise<void> {
    const state = this.txns.get(txn);
    if (state === undefined) return;
    this.txns.delete(txn);
    try {
      for (const draft of state.drafts.values()) await this.discardDraft(draft);
      if (this.closed) return;
      await this.conn.writeRelaxedQueued('rollback', () => {
        this.sql.deletePendingRefs.run({ token: state.token });
        this.sql.deleteBlobTxn.run({ token: state.token });
      });
    } catch (error) {
      this.logger.warn({ err: error, token: state.token }, 'sqlite-blobs: rollback left rows behind; they are dropped at the next open');
    }
  }

  async releaseReferences(refs: readonly BlobRef[]): Promise<void> {
    this.checkWritable('releaseReferences');
    const mine = refs.filter((ref) => ref.handlerton === this.name && ref.blobId <= MAX_SQL_INT && ref.revision <= MAX_SQL_INT);
    if (mine.length === 0) return;
    await this.conn.writeQueued('releaseReferences', () => {
      for (const ref of mine) this.sql.releaseRefcount.run({ blob: ref.blobId, revision: ref.revision, count: 1 });
    });
  }

  async refcount(blobId: BlobId, revision: Tid): Promise<number> {
    this.checkOpen();
    const row = this.committedRow(blobId, revision);
    if (row === undefined) return 0;
    return Number(row.refcount) + (this.conn.openReaders.get(row.id) ?? 0);
  }

  async reclaim(): Promise<ReclaimResult> {
    this.checkWritable('reclaim');
    let count = 0;
    let bytes = 0;
    let after = 0n;
    for (;;) {
      const rows = this.conn.read('reclaim', () => this.sql.reclaimable.all({ after }));
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      for (const { id, size } of rows) {
        // Decide from the row as it is now, not as the batch read it: a reference or a reader may have
        // arrived since (the loop yields between rows).
        const stillFree = (): boolean => !this.conn.openReaders.has(id) && this.sql.stillReclaimable.get({ id }) !== undefined;
        // A revision other revisions read through is retired (invisible) and deleted with its last dependent.
        const outcome = await this.conn.writeRelaxedQueued('reclaim', () => {
          if (!stillFree()) return 'kept';
          if (this.sql.hasDependents.get({ id }) === undefined) return 'drop';
          this.sql.retire.run({ id });
          return 'retired';
        });
        if (outcome === 'kept') continue;
        if (outcome === 'drop' && !(await this.dropRows(id, false, stillFree))) continue;
        count += 1;
        bytes += Number(size);
      }
      await yieldToLoop();
    }
    for (;;) {
      const free = this.conn.read('reclaim', () => this.sql.retiredFree.all());
      if (free.length === 0) return { revisions: count, bytes };
      for (const { id } of free) await this.dropRows(id, false);
    }
  }

  async recover(
    isCommitted: (pending: PendingRevision) => Promise<boolean>,
    hasCommitted?: (pending: PendingReferences) => Promise<boolean>,
  ): Promise<void> {
    this.checkOpen();
    // Read-only (inspection): undecided transactions stay invisible; the writer's next open decides them.
    if (this.conn.readOnly) return;
    const live = new Set([...this.txns.values()].map((s) => s.token));
    const prepared = this.conn.read('recover', () => this.sql.preparedTxns.all());
    for (const { token, tid, witness } of prepared) {
      if (live.has(token)) continue;
      const rows = this.conn.read('recover', () => this.sql.tokenRows.all({ token }));
      let commit = true;
      for (const row of rows) {
        const pending: PendingRevision = { blobId: row.blob_id, revision: row.revision ?? tid, oid: row.oid };
        if (!(await isCommitted(pending))) {
          commit = false;
          break;
        }
      }
      // References only: decided by the witness record; without one, published (a leak, never a loss).
      if (rows.length === 0 && witness !== null && hasCommitted !== undefined) commit = await hasCommitted({ tid, witness });
      if (commit) {
        await this.conn.writeQueued('recover', () => this.publish(token));
      } else {
        for (const row of rows) await this.dropRows(row.id);
        await this.conn.writeQueued('recover', () => {
          this.sql.deletePendingRefs.run({ token });
          this.sql.deleteBlobTxn.run({ token });
        });
      }
    }
  }

  close(): Promise<void> {
    // One close, however many callers: a second concurrent close must not release the shared connection twice.
    this.closing ??= (async () => {
      for (const [txn, state] of [...this.txns]) {
        if (!state.prepared) {
          await this.rollback(txn);
          continue;
        }
        // Prepared and not committed: the storage's finish may have failed after its records reached the
        // disk. Only recover() at the next open may decide, so the prepared rows stay.
        this.txns.delete(txn);
        for (const draft of state.drafts.values()) draft.close();
      }
      this.closed = true;
      await releaseConnection(this.conn);
    })();
    return this.closing;
  }

  private publish(token: string): void {
    this.sql.publish.run({ token });
    for (const ref of this.sql.pendingRefs.all({ token })) {
      this.sql.addRefcount.run({ blob: ref.blob_id, revision: ref.revision, count: ref.count });
    }
    this.sql.deletePendingRefs.run({ token });
    this.sql.deleteBlobTxn.run({ token });
  }

  private addPendingRef(token: string, blobId: BlobId, revision: Tid, count: number): void {
    if (blobId > MAX_SQL_INT || revision > MAX_SQL_INT) return;
    this.sql.addPendingRef.run({ token, blob: blobId, revision, count });
  }

  private async discardDraft(draft: SqliteDraft): Promise<void> {
    draft.close();
    await this.dropRows(draft.rowId);
  }

  /**
   * Deletes a revision row, its chunk map and its chunks: `draft` (a draft or prepared revision):
   * its private chunks; otherwise (a reclaimed revision): every chunk no other map references.
   * The row goes first, so the revision is unreadable from then on.
   */
  private async dropRows(rowId: bigint, draft = true, stillWanted?: () => boolean): Promise<boolean> {
    const dropped = await this.conn.writeRelaxedQueued('dropping a revision', () => {
      if (stillWanted !== undefined && !stillWanted()) return false;
      this.sql.deleteRow.run({ id: rowId });
      return true;
    });
    if (!dropped) return false;
    // Batches follow the rows that exist: a sparse revision of 2^48 bytes drops as fast as its rows.
    if (draft) await this.chunks.dropDraftFrom(rowId, 0);
    else await this.chunks.dropRevision(rowId);
    return true;
  }

  /** Revision row `rowId` and its base chain, with how much of each base shows through. */
  private loadChain(rowId: bigint): ChainLevel[] {
    return this.conn.read('reading a blob revision', () => {
      const chain: ChainLevel[] = [];
      let limit = Infinity;
      let current: bigint | null = rowId;
      for (let guard = 0; current !== null && guard <= 4 * MAX_CHAIN_DEPTH; guard++) {
        const link = this.sql.chainLink.get({ id: current });
        chain.push({ id: current, limit, recorded: link?.holes === 1n, hasHoles: this.chunks.hasHoles(current) });
        if (link === undefined || link.base_id === null) break;
        limit = Math.min(limit, Number(link.base_limit));
        current = link.base_id;
      }
      return chain;
    });
  }

  private committedRow(
    blobId: BlobId,
    revision: Tid,
  ): { id: bigint; size: bigint; chunk_size: bigint; refcount: bigint; depth: bigint } | undefined {
    assertU64(blobId, 'blobId');
    assertU64(revision, 'revision');
    if (blobId > MAX_SQL_INT || revision > MAX_SQL_INT) return undefined;
    return this.conn.read('reading a blob revision', () => this.sql.committed.get({ blob: blobId, revision }));
  }

  private stateOf(txn: BlobTransaction): TxnState {
    if (txn === null || typeof txn !== 'object') throw new TransactionClosedError('not a blob transaction');
    let state = this.txns.get(txn);
    if (state === undefined) {
      state = { token: randomUUID(), drafts: new Map(), refs: new Map(), prepared: false };
      this.txns.set(txn, state);
    }
    return state;
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageClosedError('the sqlite blob handlerton is closed');
  }

  /** checkOpen, then ReadOnlyError when the handlerton is read-only. */
  private checkWritable(what: string): void {
    this.checkOpen();
    this.conn.assertWritable(what);
  }
}

/** Drops drafts left by a process that died, and chunk rows no revision maps (an interrupted reclaim). */
async function dropDeadDrafts(conn: SqliteConnection): Promise<void> {
  const k = conn.kysely;
  const drafts = k.selectFrom('blob_revision').select('id').where('state', '=', 'draft');
  await k.deleteFrom('chunk').where('id', 'in', k.selectFrom('revision_chunk').select('chunk_id').where('own', '=', 1n).where('revision_id', 'in', drafts)).execute();
  await k.deleteFrom('revision_chunk').where('revision_id', 'in', drafts).execute();
  await k.deleteFrom('blob_revision').where('state', '=', 'draft').execute();
  await k.deleteFrom('revision_chunk').where('revision_id', 'not in', k.selectFrom('blob_revision').select('id')).execute();
  await k.deleteFrom('revision_hole').where('revision_id', 'not in', k.selectFrom('blob_revision').select('id')).execute();
  await k
    .deleteFrom('chunk')
    .where((e) => e.not(e.exists(e.selectFrom('revision_chunk').select('seq').whereRef('revision_chunk.chunk_id', '=', 'chunk.id'))))
    .execute();
}
