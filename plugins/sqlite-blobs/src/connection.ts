/**
 * One SQLite connection per database file per process, shared (ref-counted) by its users.
 *
 * An engine location names two files with one job each: `<location>` holds the records (4 KiB
 * pages, the best for small rows) and `<location>-blobs` holds the blob chunks (64 KiB pages, the
 * best for 256 KiB chunks). The storage opens the first, the blob handlerton the second.
 *
 * Opening takes the writer lock (an exclusively locked side file `<file>-writer.lock`: one writing
 * process per database), sets the pragmas (page size before the first table, WAL, synchronous, busy
 * timeout), runs the migrations, reads (or creates) the database id and starts the checkpoint worker.
 *
 * A read-only connection (see read-only.ts) takes no writer lock, runs no migration and starts no
 * worker: it only reads, through SQLite's WAL read protocol, beside a writer in another process.
 *
 * File operations made in JavaScript (the parent directory, the WAL pre-sync, the WAL size check) go
 * through the FileSystem the connection was opened with (the engine context's `fs`); SQLite's own
 * I/O, the writer lock included, is native (README "Fault injection").
 */
import { randomBytes } from 'node:crypto';
import * as nodeFs from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, NO_MIGRATIONS, SqliteDialect, type Compilable } from 'kysely';
import { CorruptionError, InvalidConfigError, ReadOnlyError, StorageClosedError, StorageIOError, type FileSystem } from '@handlerton/framework';
import { checkLocation, makeParentDirectory, syncDatabaseDirectory } from './location.js';
import { migrationProvider } from './migrations.js';
import type { SynchronousLevel } from './options.js';
import { PreparedQuery } from './prepared.js';
import type { DB } from './schema.js';
import { Checkpointer } from './checkpointer.js';
import type { ChunkWriter } from './chunk-writer.js';
import { WriteLane } from './write-lane.js';
import { isDiskFailure, mapSqliteError } from './sql-errors.js';
import { TransactionalSqliteDialect } from './migration-dialect.js';
import { checkWal } from './wal-check.js';
import { assertKnownMigrations } from './schema-version.js';
import { datasyncFile } from './wal-sync.js';
import { openReadOnly } from './read-only.js';
import { registerFunctions } from './sql-functions.js';

/** What a database file holds. */
export type FileRole = 'records' | 'blobs';

/**
 * Page size per role, set before the first table (it cannot change once the database is in WAL
 * mode). Measured here: 100 small records commit in ~0.5 ms at 4 KiB pages against ~0.65 ms at
 * 64 KiB; 256 KiB chunks stream ~30% faster at 64 KiB than at 4 KiB.
 */
export const PAGE_SIZES: Readonly<Record<FileRole, number>> = Object.freeze({ records: 4096, blobs: 65536 });

/** The database file of `role` at an engine location. */
export function roleFile(location: string, role: FileRole): string {
  const file = resolve(location);
  return role === 'records' ? file : `${file}-blobs`;
}

/**
 * Records file WAL policy, in bytes: SQLite's own checkpoint runs after the commit that takes the WAL
 * past RECORDS_CHECKPOINT_BYTES, and the WAL restarts from its beginning at the next commit, so it
 * holds at most that plus one transaction's pages; a file grown by a larger transaction is cut back
 * to RECORDS_WAL_LIMIT when the WAL restarts (journal_size_limit).
 */
export const RECORDS_CHECKPOINT_BYTES = 4 * 1024 * 1024;
/** The records WAL file's documented limit (README "The event loop"), also its journal_size_limit. */
export const RECORDS_WAL_LIMIT = 16 * 1024 * 1024;
/** The blob file's journal_size_limit (its WAL bounds are in checkpointer.ts). */
export const BLOBS_JOURNAL_LIMIT = 64 * 1024 * 1024;

/** SQLite's own (blocking) auto-checkpoint threshold while the worker checkpoints a blob file: a safety net. */
const SAFETY_CHECKPOINT_PAGES = 8192;

/** Connection-level options (must agree between users of one file). */
export interface ConnectionOptions {
  readonly synchronous: SynchronousLevel;
  readonly busyTimeoutMs: number;
  /** Tests only: stop the schema at this migration instead of the latest. */
  readonly migrateTo?: string;
  /** Open for reading only (no lock, no migration, no worker; writes raise ReadOnlyError). */
  readonly readOnly?: boolean;
}

/** An open database file with its kysely instance and statement cache. */
export class SqliteConnection {
  /** The raw better-sqlite3 connection (synchronous). */
  readonly db: BetterSqlite3.Database;
  /** Kysely over the same connection (never used inside a better-sqlite3 transaction). */
  readonly kysely: Kysely<DB>;
  /** Open readers per blob revision row id (they defer reclaim). */
  readonly openReaders = new Map<bigint, number>();
  /** Set when the blob tables were cleaned after open (drafts of a dead process dropped). */
  blobsRecovered = false;
  /** Orders the writes of this file made through `writeQueued` and the chunk writer (see WriteLane). */
  readonly lane = new WriteLane();
  /** The thread writing blob chunks of this file, once the chunk store started it. */
  chunkWriter: ChunkWriter | undefined;
  private readonly cache = new Map<string, PreparedQuery<unknown>>();
  private readonly relaxStatement: BetterSqlite3.Statement;
  private readonly strictStatement: BetterSqlite3.Statement;
  private failure: unknown = undefined;
  private presyncing: Promise<void> = Promise.resolve();
  private presyncRunning = false;
  private closed = false;
  users = 0;

  private readonly checkpointer: Checkpointer | undefined;
  private autoCheckpoint = true;

  constructor(
    readonly file: string,
    readonly role: FileRole,
    readonly options: ConnectionOptions,
    db: BetterSqlite3.Database,
    readonly databaseId: bigint,
    /** The writer lock's connection; undefined when read-only. */
    private readonly writerLock: BetterSqlite3.Database | undefined,
    /** The FileSystem the engine's JavaScript file operations go through. */
    readonly fs: FileSystem,
  ) {
    this.db = db;
    if (this.readOnly) {
      this.checkpointer = undefined;
    } else if (role === 'blobs') {
      try {
        this.checkpointer = new Checkpointer(file, options.busyTimeoutMs, fs);
        db.pragma(`wal_autocheckpoint = ${SAFETY_CHECKPOINT_PAGES}`);
        // Chunks stream through once: 8 pages of 64 KiB cached are enough (SQLite's default holds 2 MiB).
        db.pragma('cache_size = -512');
        this.autoCheckpoint = false;
      } catch {
        this.checkpointer = undefined;
      }
    } else {
      // Records: SQLite's own checkpoint every RECORDS_CHECKPOINT_BYTES keeps the WAL small and reused
      // in place (a commit's fsync then finds no file growth to journal). Measured: 1,450 commits/s
      // against 1,140-1,280 with the worker; the inline checkpoint stalls the loop for 9-15 ms.
      db.pragma(`wal_autocheckpoint = ${Math.max(1, Math.floor(RECORDS_CHECKPOINT_BYTES / PAGE_SIZES.records))}`);
      db.pragma(`journal_size_limit = ${RECORDS_WAL_LIMIT}`);
      this.checkpointer = undefined;
    }
    this.kysely = new Kysely<DB>({ dialect: new SqliteDialect({ database: db }) });
    this.relaxStatement = db.prepare('pragma synchronous = NORMAL');
    this.strictStatement = db.prepare(`pragma synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  }

  /** The background threads this connection runs: 'checkpoint', 'chunk-writer' (diagnostics and tests). */
  get threads(): string[] {
    const out: string[] = [];
    if (this.checkpointer?.alive === true) out.push('checkpoint');
    if (this.chunkWriter?.alive === true) out.push('chunk-writer');
    return out;
  }

  /** True when opened read-only: every write raises ReadOnlyError. */
  get readOnly(): boolean {
    return this.options.readOnly === true;
  }

  /** Throws ReadOnlyError (naming `what`) when the connection is read-only. */
  assertWritable(what: string): void {
    if (this.readOnly) throw new ReadOnlyError(`${what}: the sqlite database ${this.file} is open read-only`);
  }

  /** A prepared statement, built by kysely once per connection and cached under `key`. */
  query<Row>(key: string, build: (k: Kysely<DB>) => Compilable<Row>): PreparedQuery<Row> {
    let found = this.cache.get(key) as PreparedQuery<Row> | undefined;
    if (found === undefined) {
      found = new PreparedQuery<Row>(this.db, build(this.kysely));
      this.cache.set(key, found as PreparedQuery<unknown>);
    }
    return found;
  }

  /** Throws when the connection is closed or failed (fail-stop after a disk error). */
  check(): void {
    if (this.closed) throw new StorageClosedError(`sqlite database ${this.file} is closed`);
    if (this.failure !== undefined) {
      throw new StorageIOError(`sqlite database ${this.file} stopped after a disk failure; reopen it`, { cause: this.failure });
    }
  }

  /** Runs `fn` in one synchronous write transaction (BEGIN IMMEDIATE), synced per the configured level. */
  write<T>(what: string, fn: () => T): T {
    this.check();
    this.assertWritable(what);
    try {
      return this.db.transaction(fn).immediate();
    } catch (error) {
      throw this.fail(error, what);
    }
  }

  /** `write`, queued behind the writes already in this file's lane. */
  writeQueued<T>(what: string, fn: () => T): Promise<T> {
    return this.lane.run(() => this.write(what, fn));
  }

  /** `writeRelaxed`, queued behind the writes already in this file's lane. */
  writeRelaxedQueued<T>(what: string, fn: () => T): Promise<T> {
    return this.lane.run(() => this.writeRelaxed(what, fn));
  }

  /**
   * Runs `fn` in one write transaction that is not synced on its own (synchronous=NORMAL): used for
   * draft chunks, which become durable with the next synced commit (the WAL fsync covers them).
   */
  writeRelaxed<T>(what: string, fn: () => T): T {
    this.check();
    this.assertWritable(what);
    try {
      this.relaxStatement.run();
      try {
        return this.db.transaction(fn).immediate();
      } finally {
        this.strictStatement.run();
      }
    } catch (error) {
      throw this.fail(error, what);
    }
  }

  /** Runs a synchronous read, mapping SQLite errors. */
  read<T>(what: string, fn: () => T): T {
    this.check();
    try {
      return fn();
    } catch (error) {
      throw this.fail(error, what);
    }
  }

  /** The page size of this file. */
  get pageSize(): number {
    return PAGE_SIZES[this.role];
  }

  /** Accounts an estimate of `bytes` written to the WAL (starts background checkpoints). */
  noteWal(bytes: number): void {
    this.checkpointer?.note(bytes);
  }

  /**
   * Back-pressure for writers: waits (without blocking the loop) while the worker checkpoints a WAL
   * that grew past its bound. Without a live worker, SQLite's own auto-checkpoint takes over.
   */
  async throttle(): Promise<void> {
    if (this.checkpointer?.alive === true) {
      await this.checkpointer.throttle();
    } else if (!this.autoCheckpoint && !this.closed) {
      this.db.pragma('wal_autocheckpoint = 1000');
      this.autoCheckpoint = true;
    }
  }

  /**
   * Flushes the WAL to disk from the thread pool, so that the next synced commit (which fsyncs the
   * WAL on the event loop) finds little left to write. A WAL that does not exist yet is skipped; a
   * failed fdatasync stops the connection (after a failed fsync nothing written may be assumed safe).
   */
  async presync(): Promise<void> {
    if (this.options.synchronous !== 'full' || this.closed || this.readOnly) return;
    await this.presyncing;
    const run = this.flushWal();
    this.presyncing = run;
    await run;
  }

  /** Starts a WAL flush from the thread pool unless one is running (a chunk stream calls it every few MiB). */
  presyncInBackground(): void {
    if (this.options.synchronous !== 'full' || this.closed || this.presyncRunning || this.readOnly) return;
    this.presyncing = this.flushWal();
  }

  private async flushWal(): Promise<void> {
    this.presyncRunning = true;
    try {
      // A WAL that does not exist yet is skipped: the synced commit does the work.
      await datasyncFile(this.fs, `${this.file}-wal`);
    } catch (error) {
      this.failure ??= error;
    } finally {
      this.presyncRunning = false;
    }
  }

  /** Maps an error; a disk failure stops further use of the connection. */
  fail(error: unknown, what: string): unknown {
    if (isDiskFailure(error)) this.failure = error;
    return mapSqliteError(error, what, this.file);
  }

  /** Closes the database (called when the last user releases it). */
  async destroy(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.lane.drain();
    await this.presyncing;
    await this.chunkWriter?.stop();
    this.cache.clear();
    if (this.checkpointer !== undefined) {
      if (this.failure === undefined) await this.checkpointer.drain();
      await this.checkpointer.stop();
    }
    try {
      if (this.failure === undefined && this.db.open && !this.readOnly) this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // best effort: the WAL is replayed on the next open anyway
    }
    await this.kysely.destroy();
    if (this.db.open) this.db.close();
    if (this.writerLock?.open === true) this.writerLock.close();
  }
}

const registry = new Map<string, Promise<SqliteConnection>>();

/**
 * Opens (or shares) the connection to the `role` file of `location`, its JS file operations made
 * through `fs` (a shared connection keeps the fs of its first opener). Release it with releaseConnection.
 */
export async function acquireConnection(
  location: string,
  options: ConnectionOptions,
  role: FileRole,
  fs: FileSystem = nodeFs,
): Promise<SqliteConnection> {
  checkLocation(location);
  const file = roleFile(location, role);
  // A read-only connection is never shared with a writing one (nor the reverse): two registry entries.
  const key = registryKey(file, options.readOnly === true);
  let pending = registry.get(key);
  if (pending === undefined) {
    pending = options.readOnly === true ? openReadOnly(file, options, role, fs) : openConnection(file, options, role, fs);
    registry.set(key, pending);
    pending.catch(() => registry.delete(key));
  }
  const connection = await pending;
  // A read-only connection never commits: its synchronous level does not matter.
  if (options.readOnly !== true && connection.options.synchronous !== options.synchronous) {
    throw new InvalidConfigError(
      `synchronous: ${file} is already open with synchronous "${connection.options.synchronous}", not "${options.synchronous}"`,
      'synchronous',
    );
  }
  connection.users += 1;
  return connection;
}

/** Drops one user of a connection; the last one closes it. */
export async function releaseConnection(connection: SqliteConnection): Promise<void> {
  connection.users -= 1;
  if (connection.users > 0) return;
  registry.delete(registryKey(connection.file, connection.readOnly));
  await connection.destroy();
}

function registryKey(file: string, readOnly: boolean): string {
  return readOnly ? `${file}\0read-only` : file;
}

async function openConnection(file: string, options: ConnectionOptions, role: FileRole, fs: FileSystem): Promise<SqliteConnection> {
  let db: BetterSqlite3.Database | undefined;
  let lock: BetterSqlite3.Database | undefined;
  try {
    makeParentDirectory(file, fs);
    lock = takeWriterLock(file, options.busyTimeoutMs);
    // Before SQLite reads the WAL: it would silently drop every frame after a damaged one. Only sound
    // where every transaction syncs its frames before the next one writes (records, synchronous FULL):
    // the blob file writes draft chunks in relaxed (unsynced) transactions, and synchronous NORMAL
    // syncs only at checkpoints, so after a power cut a torn frame may precede a later frame that
    // happened to reach the disk; there SQLite's cut at the first bad frame is the right recovery.
    if (role === 'records' && options.synchronous === 'full') await checkWal(fs, file);
    db = new Database(file, { timeout: options.busyTimeoutMs });
    db.defaultSafeIntegers(true);
    registerFunctions(db, role);
    applyPragmas(db, options, PAGE_SIZES[role]);
    const databaseId = await prepareSchema(db, role, options.migrateTo, file);
    // The WAL exists now (SQLite made it at the first read): its directory entry must be durable
    // before any commit in it is acknowledged.
    await syncDatabaseDirectory(file, fs);
    return new SqliteConnection(file, role, options, db, databaseId, lock, fs);
  } catch (error) {
    for (const handle of [db, lock]) {
      try {
        handle?.close();
      } catch {
        // already failing
      }
    }
    throw damagedWriteVersion(error, file, fs) ?? mapSqliteError(error, 'opening the sqlite database', file);
  }
}

/**
 * SQLite opens a file whose header says a write format version above 2 read-only and then refuses
 * every write with SQLITE_READONLY: on a file this engine made (always WAL, version 2) that is a
 * damaged header byte, so CorruptionError naming the file and byte 18, not an I/O error.
 */
function damagedWriteVersion(error: unknown, file: string, fs: FileSystem): CorruptionError | undefined {
  if ((error as { code?: unknown }).code !== 'SQLITE_READONLY') return undefined;
  let version: number | undefined;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const head = Buffer.alloc(19);
      if (fs.readSync(fd, head, 0, 19, 0) === 19 && head.toString('latin1', 0, 16) === 'SQLite format 3\0') version = head[18];
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  if (version === undefined || version <= 2) return undefined;
  return new CorruptionError(`the sqlite file header's write format version is ${version}, not 2 (WAL): a damaged header byte`, file, 18, { cause: error });
}

/** The side file whose exclusive lock marks the one process allowed to write the database. */
export function writerLockFile(file: string): string {
  return `${file}-writer.lock`;
}

function takeWriterLock(file: string, busyTimeoutMs: number): BetterSqlite3.Database {
  const lock = new Database(writerLockFile(file), { timeout: busyTimeoutMs });
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    // A write in exclusive locking mode takes the file's EXCLUSIVE lock and keeps it until close.
    lock.exec('BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS owner (pid INTEGER); DELETE FROM owner;');
    lock.prepare('INSERT INTO owner (pid) VALUES (?)').run(process.pid);
    lock.exec('COMMIT');
    return lock;
  } catch (error) {
    lock.close();
    throw error;
  }
}

function applyPragmas(db: BetterSqlite3.Database, options: ConnectionOptions, pageSize: number): void {
  db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
  db.pragma(`page_size = ${pageSize}`);
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (String(mode).toLowerCase() !== 'wal') {
    throw new StorageIOError(`sqlite database could not switch to WAL mode (got ${String(mode)})`);
  }
  db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = OFF');
  // Extra sanity checks of every b-tree page read from disk (cheap): a damaged page is SQLITE_CORRUPT sooner.
  db.pragma('cell_size_check = ON');
  // Truncate the WAL back to this size whenever it restarts after a complete checkpoint (records: lowered in the constructor).
  db.pragma(`journal_size_limit = ${BLOBS_JOURNAL_LIMIT}`);
}

async function prepareSchema(db: BetterSqlite3.Database, role: FileRole, migrateTo: string | undefined, file: string): Promise<bigint> {
  assertKnownMigrations(db, role, file);
  const kysely = new Kysely<DB>({ dialect: new TransactionalSqliteDialect({ database: db }) });
  const migrator = new Migrator({ db: kysely, provider: migrationProvider(role) });
  const { error } = migrateTo === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(migrateTo ?? NO_MIGRATIONS);
  if (error !== undefined && isDiskFailure(error)) {
    // the disk failed during the migration (rolled back as a whole): an I/O error, not damage
    throw new StorageIOError(`sqlite schema migration failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (error !== undefined) {
    throw new CorruptionError(`sqlite schema migration failed: ${error instanceof Error ? error.message : String(error)}`, file, undefined, {
      cause: error,
    });
  }
  const fresh = randomBytes(8).readBigUInt64BE(0) & ((1n << 63n) - 1n);
  db.prepare("insert or ignore into meta (key, value) values ('database_id', ?)").run(fresh.toString());
  const row = db.prepare("select value from meta where key = 'database_id'").get() as { value: string };
  return BigInt(row.value);
}
