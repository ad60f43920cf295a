/**
 * kysely's SQLite dialect with transactional DDL: SQLite supports it, but kysely's SqliteAdapter
 * says it does not, so its Migrator would run each migration's statements one by one in autocommit
 * mode. An I/O error in the middle of a migration then left a half-created schema ("table blob
 * already exists" on every later open). With this dialect the pending migrations run in one
 * transaction: all of them or none.
 */
import { SqliteAdapter, SqliteDialect, type DialectAdapter } from 'kysely';

class TransactionalDdlAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/** SqliteDialect whose Migrator wraps the pending migrations in one transaction. */
export class TransactionalSqliteDialect extends SqliteDialect {
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlAdapter();
  }
}
