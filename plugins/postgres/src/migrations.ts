/**
 * Versioned schema migrations, run by kysely's Migrator (which serialises concurrent migrators with
 * an advisory lock, so several clients may open a new database at once). Every table lives in the
 * engine's schema. Never edit a released migration: add a new one.
 */
import { Kysely, Migrator, PostgresDialect, sql, type Migration, type MigrationProvider } from 'kysely';
import pg from 'pg';
import { StorageIOError } from '@handlerton/framework';

/** 0001: records (meta, txn, object_state) and the oid sequence. */
function recordTables(schema: string): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const s = db.schema.withSchema(schema);
      await s.createTable('meta').addColumn('key', 'text', (c) => c.primaryKey()).addColumn('value', 'text', (c) => c.notNull()).execute();
      await s
        .createTable('txn')
        .addColumn('tid', 'bigint', (c) => c.primaryKey())
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('extension', 'text', (c) => c.notNull())
        .addColumn('packed', 'boolean', (c) => c.notNull().defaultTo(false))
        .execute();
      await s
        .createTable('object_state')
        .addColumn('zoid', 'bigint', (c) => c.notNull())
        .addColumn('tid', 'bigint', (c) => c.notNull())
        .addColumn('deleted', 'boolean', (c) => c.notNull())
        .addColumn('data', 'bytea', (c) => c.notNull())
        .addColumn('refs', 'bytea', (c) => c.notNull())
        .addPrimaryKeyConstraint('object_state_pk', ['zoid', 'tid'])
        .execute();
      await s.createIndex('object_state_tid').on('object_state').column('tid').execute();
      await sql`create sequence ${sql.id(schema, 'oid_seq')} minvalue 1 start 1`.execute(db);
    },
  };
}

/** 0002: blobs: revisions, their chunk lists (shared between revisions: copy-on-write) and the chunks. */
function blobTables(schema: string): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const s = db.schema.withSchema(schema);
      await sql`create sequence ${sql.id(schema, 'blob_seq')} minvalue 1 start 1`.execute(db);
      await s
        .createTable('blob_chunk')
        .addColumn('chunk_id', 'bigserial', (c) => c.primaryKey())
        .addColumn('data', 'bytea', (c) => c.notNull())
        .execute();
      await sql`alter table ${sql.id(schema, 'blob_chunk')} alter column data set storage external`.execute(db);
      await s
        .createTable('blob_revision')
        .addColumn('blob_id', 'bigint', (c) => c.notNull())
        .addColumn('revision', 'bigint', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('record_refs', 'bigint', (c) => c.notNull().defaultTo(0))
        // 'p': prepared (invisible), 'c': committed.
        .addColumn('state', 'char(1)', (c) => c.notNull())
        .addColumn('txn_key', 'text')
        .addPrimaryKeyConstraint('blob_revision_pk', ['blob_id', 'revision'])
        .execute();
      await s
        .createTable('blob_revision_chunk')
        .addColumn('blob_id', 'bigint', (c) => c.notNull())
        .addColumn('revision', 'bigint', (c) => c.notNull())
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('chunk_id', 'bigint', (c) => c.notNull().references(`${schema}.blob_chunk.chunk_id`))
        .addPrimaryKeyConstraint('blob_revision_chunk_pk', ['blob_id', 'revision', 'idx'])
        .addForeignKeyConstraint('blob_revision_chunk_revision', ['blob_id', 'revision'], `${schema}.blob_revision`, ['blob_id', 'revision'], (c) => c.onDelete('cascade'))
        .execute();
      await s.createIndex('blob_revision_chunk_chunk').on('blob_revision_chunk').column('chunk_id').execute();
      await s.createIndex('blob_revision_refs').on('blob_revision').columns(['record_refs', 'state']).execute();
    },
  };
}

/**
 * 0003: recovery of blob transactions whose client died between prepare and commit: the record
 * references a prepared transaction will count (`blob_pending_ref`, with the storage transaction's
 * tid and witness oid), the blob object of each prepared revision (`blob_revision.oid`), and the
 * sequence of client numbers (each live client holds a session advisory lock on its number).
 */
function blobRecovery(schema: string): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const s = db.schema.withSchema(schema);
      await s.alterTable('blob_revision').addColumn('oid', 'bigint').execute();
      await s
        .createTable('blob_pending_ref')
        .addColumn('txn_key', 'text', (c) => c.notNull())
        .addColumn('blob_id', 'bigint', (c) => c.notNull())
        .addColumn('revision', 'bigint', (c) => c.notNull())
        .addColumn('n', 'integer', (c) => c.notNull())
        .addColumn('tid', 'bigint', (c) => c.notNull())
        .addColumn('witness', 'bigint')
        .execute();
      await s.createIndex('blob_pending_ref_txn').on('blob_pending_ref').column('txn_key').execute();
      await s.createIndex('blob_revision_prepared').on('blob_revision').column('txn_key').where(sql.ref('state'), '=', 'p').execute();
      await sql`create sequence ${sql.id(schema, 'blob_client_seq')} minvalue 1 start 1`.execute(db);
    },
  };
}

/** The migration names, in order. */
export const MIGRATION_NAMES = ['0001_records', '0002_blobs', '0003_blob_recovery'] as const;

function provider(schema: string): MigrationProvider {
  return {
    async getMigrations() {
      return { '0001_records': recordTables(schema), '0002_blobs': blobTables(schema), '0003_blob_recovery': blobRecovery(schema) };
    },
  };
}

/** True when every migration of this version already ran in `schema` (the common open: no Migrator needed). */
async function upToDate(pool: pg.Pool, schema: string): Promise<boolean> {
  const table = `${pg.escapeIdentifier(schema)}.kysely_migration`;
  const found = await pool.query<{ present: string | null }>('select to_regclass($1)::text as present', [table]);
  if (found.rows[0]?.present === null || found.rows[0]?.present === undefined) return false;
  const done = await pool.query<{ name: string }>(`select name from ${table}`);
  const names = new Set(done.rows.map((r) => r.name));
  return MIGRATION_NAMES.every((name) => names.has(name));
}

/**
 * SQLSTATEs retried: catalogue objects that vanished under kysely's introspection (class 42, 3F000:
 * another schema was dropped meanwhile), a concurrent CREATE SCHEMA (23505), deadlock or
 * serialization failure (40xxx). Every migration step is idempotent or transactional, so a retry is safe.
 */
const RETRIED = /^(42|3F|23505|40)/;

/**
 * Creates or upgrades the engine's schema on `pool`; StorageIOError when a migration fails. kysely's
 * introspection reads the catalogue of the whole database, which fails ("schema does not exist",
 * "column ... does not exist") while another schema is dropped at the same moment: that is retried.
 */
export async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  if (await upToDate(pool, schema)) return;
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(pool, schema);
    } catch (error) {
      const state = String((error as { cause?: { code?: unknown } }).cause?.code ?? '');
      if (attempt >= 8 || !RETRIED.test(state)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }
}

async function migrateOnce(pool: pg.Pool, schema: string): Promise<void> {
  // The Kysely instance must not end the shared pool when destroyed.
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: { connect: () => pool.connect(), end: async () => undefined } as unknown as pg.Pool }) });
  try {
    const migrator = new Migrator({ db, provider: provider(schema), migrationTableSchema: schema });
    const { error, results } = await migrator.migrateToLatest();
    if (error !== undefined) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'setup';
      throw new StorageIOError(`PostgreSQL schema "${schema}": migration ${failed} failed: ${String(error)}`, { cause: error });
    }
  } finally {
    await db.destroy();
  }
}
