/** Refusing a database file whose schema a newer version of this engine migrated. */
import type BetterSqlite3 from 'better-sqlite3';
import { FormatVersionError } from '@handlerton/framework';
import type { FileRole } from './connection.js';
import { migrationNames } from './migrations.js';

/**
 * Throws FormatVersionError when the file records a migration this version does not know (written by
 * a newer version): migrating it, or reading it with this version's queries, could damage it.
 */
export function assertKnownMigrations(db: BetterSqlite3.Database, role: FileRole, file: string): void {
  const table = db.prepare("select 1 from sqlite_master where type = 'table' and name = 'kysely_migration'").get();
  if (table === undefined) return;
  const known = new Set(migrationNames(role));
  const rows = db.prepare('select name from kysely_migration order by name').all() as { name: unknown }[];
  const unknown = rows.map((row) => String(row.name)).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new FormatVersionError(
      `the sqlite ${role} file ${file} was migrated by a newer version of @handlerton/sqlite (schema steps ${unknown.join(', ')} are unknown to this version): open it with that version or newer`,
    );
  }
}
