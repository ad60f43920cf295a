/**
 * Opening a database file read-only (option `readOnly`), to inspect a database that another process
 * may hold open and be writing: no writer lock, no migration, no worker, no recovery, no directory
 * fsync, nothing created. SQLite opens the file with SQLITE_OPEN_READONLY and reads through the WAL
 * protocol, so committed transactions still in the writer's WAL are visible. SQLite itself may create
 * the empty `-wal` and `-shm` side files of an idle database (every WAL reader needs them); the
 * database file, its WAL content and the writer lock are never changed.
 */
import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { CorruptionError, DatabaseNotFoundError, FormatVersionError, type FileSystem } from '@handlerton/framework';
import { PAGE_SIZES, SqliteConnection, type ConnectionOptions, type FileRole } from './connection.js';
import { migrationNames } from './migrations.js';
import { assertKnownMigrations } from './schema-version.js';
import { mapSqliteError } from './sql-errors.js';
import { registerFunctions } from './sql-functions.js';
import { walProblems } from './wal-verify.js';

/** Opens `file` read-only; DatabaseNotFoundError when it is missing, FormatVersionError when its schema is not this version's. */
export async function openReadOnly(file: string, options: ConnectionOptions, role: FileRole, fs: FileSystem): Promise<SqliteConnection> {
  assertFileExists(file, role, fs);
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: options.busyTimeoutMs });
    db.defaultSafeIntegers(true);
    registerFunctions(db, role);
    db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
    db.pragma('cell_size_check = ON');
    assertKnownMigrations(db, role, file);
    try {
      assertCurrentSchema(db, role, file);
    } catch (error) {
      // no (or a partial) schema: frames SQLite ignores may hold the rest
      if (error instanceof FormatVersionError) await assertNothingLost(file, role, fs);
      throw error;
    }
    const row = db.prepare("select value from meta where key = 'database_id'").get() as { value: unknown } | undefined;
    if (row === undefined) throw new CorruptionError(`the sqlite ${role} file ${file} has no database id`, file);
    return new SqliteConnection(file, role, options, db, BigInt(String(row.value)), undefined, fs);
  } catch (error) {
    try {
      db?.close();
    } catch {
      // already failing
    }
    throw mapSqliteError(error, 'opening the sqlite database read-only', file);
  }
}

/**
 * A file without the (whole) schema that is not a fresh or old one: a database file too short to be
 * one, or a WAL whose frames SQLite ignores (a damaged header or frame: the transactions of a
 * never-checkpointed database, its schema steps included, are in those frames) is CorruptionError,
 * not FormatVersionError.
 */
async function assertNothingLost(file: string, role: FileRole, fs: FileSystem): Promise<void> {
  const size = fs.statSync(file).size;
  if (size > 0 && size < 512) throw new CorruptionError(`the sqlite ${role} file ${file} is ${size} bytes long: a truncated database file`, file, size);
  const { problems } = await walProblems(file, PAGE_SIZES[role]);
  const first = problems[0];
  if (first !== undefined) throw new CorruptionError(`the sqlite ${role} file ${file} has no (whole) schema, and its WAL holds frames SQLite ignores: ${first.message}`, `${file}-wal`, first.offset);
}

function assertFileExists(file: string, role: FileRole, fs: FileSystem): void {
  let isFile = false;
  try {
    isFile = fs.statSync(file).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) {
    throw new DatabaseNotFoundError(`no sqlite ${role} file at ${file}: a read-only open never creates a database (check the path)`);
  }
}

/** FormatVersionError unless every migration of this version has run on the file (a read-only open cannot migrate). */
function assertCurrentSchema(db: BetterSqlite3.Database, role: FileRole, file: string): void {
  const table = db.prepare("select 1 from sqlite_master where type = 'table' and name = 'kysely_migration'").get();
  const done = new Set(
    table === undefined ? [] : (db.prepare('select name from kysely_migration').all() as { name: unknown }[]).map((r) => String(r.name)),
  );
  const missing = migrationNames(role).filter((name) => !done.has(name));
  if (table === undefined) {
    throw new FormatVersionError(
      `the sqlite ${role} file ${file} has no handlerton schema (not a handlerton database, or never opened read-write): a read-only open cannot create it`,
    );
  }
  if (missing.length > 0) {
    throw new FormatVersionError(
      `the sqlite ${role} file ${file} has an older schema than this version of @handlerton/sqlite-blobs (missing schema steps ${missing.join(', ')}): a read-only open cannot upgrade it; open it read-write once (without readOnly) to migrate it`,
    );
  }
}
