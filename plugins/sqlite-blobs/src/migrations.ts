/**
 * Versioned schema migrations, run by kysely's Migrator from an in-code provider.
 * Never edit a released migration: add a new one.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { FileRole } from './connection.js';
import { LINK_CHECKSUM_FUNCTION, POINTER_CHECKSUM_FUNCTION, RECORD_CHECKSUM_FUNCTION, TXN_CHECKSUM_FUNCTION } from './record-check.js';
import { yieldToLoop } from './yield.js';

/** The SQL function (registered on every blob-file connection at open) computing a chunk checksum. */
export const CHECKSUM_FUNCTION = 'handlerton_chunk_crc32';

/** Chunks checksummed per statement by the 0004 backfill (at most 64 x 64 MiB, usually 64 x 256 KiB). */
const BACKFILL_BATCH = 64;

/** The key/value table of a file (its database id). */
async function createMetaTable(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .modifyEnd(sql`without rowid`)
    .execute();
}

/** 0001: storage tables (meta, txn, object_revision). */
const storageTables: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await createMetaTable(db);
    await db.schema
      .createTable('txn')
      .addColumn('tid', 'integer', (c) => c.primaryKey())
      .addColumn('user', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('extension', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('oids', 'blob', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('object_revision')
      .addColumn('oid', 'integer', (c) => c.notNull())
      .addColumn('tid', 'integer', (c) => c.notNull())
      .addColumn('prev_tid', 'integer')
      .addColumn('deleted', 'integer', (c) => c.notNull())
      .addColumn('data', 'blob')
      .addColumn('refs', 'blob')
      .addPrimaryKeyConstraint('object_revision_pk', ['oid', 'tid'])
      .modifyEnd(sql`without rowid`)
      .execute();
  },
};

/**
 * 0002 of a records file: `object_revision.crc`, the recordChecksum() of every row, checked by every
 * read, and `txn.crc`, the txnChecksum() of every transaction row. Existing rows get theirs here, oid range by oid range with an event-loop yield between
 * (resumable: an interrupted run continues with the rows still null).
 */
const recordChecksums: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    if (!(await hasColumn(db, 'object_revision', 'crc'))) await db.schema.alterTable('object_revision').addColumn('crc', 'integer').execute();
    let after = -1n;
    for (;;) {
      const { rows } = await sql<{ last: bigint | number | null }>`select max(oid) as last from
        (select distinct oid from object_revision where oid > ${after} order by oid limit ${BACKFILL_BATCH})`.execute(db);
      const last = rows[0]?.last;
      if (last === null || last === undefined) break;
      await sql`update object_revision set crc = ${sql.raw(RECORD_CHECKSUM_FUNCTION)}(oid, tid, deleted, data, refs)
        where oid > ${after} and oid <= ${last} and crc is null`.execute(db);
      after = BigInt(last);
      await yieldToLoop();
    }
    if (!(await hasColumn(db, 'txn', 'crc'))) await db.schema.alterTable('txn').addColumn('crc', 'integer').execute();
    for (let from = -1n; ; ) {
      const { rows } = await sql<{ last: bigint | number | null }>`select max(tid) as last from
        (select tid from txn where tid > ${from} order by tid limit ${BACKFILL_BATCH * 16})`.execute(db);
      const last = rows[0]?.last;
      if (last === null || last === undefined) break;
      await sql`update txn set crc = ${sql.raw(TXN_CHECKSUM_FUNCTION)}(tid, user, description, extension, oids)
        where tid > ${from} and tid <= ${last} and crc is null`.execute(db);
      from = BigInt(last);
      await yieldToLoop();
    }
  },
};

/**
 * 0003 of a records file: revisions keyed by (tid, oid), and `object_current` (oid, tid, deleted)
 * pointing at each object's newest revision. Keyed by (oid, tid), a transaction writing 100
 * existing objects dirtied ~100 B-tree pages (one per object range: 400 KiB of WAL for 20 KB of
 * records); keyed by tid its revisions append to a few pages, and the current pointers of objects
 * written together share pages. Older revisions are reached through `prev_tid` (the chain a
 * revision keeps to the one it replaced). Existing rows are copied in this migration's transaction.
 * SQLite pages carry no checksums, so the link (oid, tid, prev_tid, deleted) and each pointer carry
 * one (`link`, `crc`): a damaged prev_tid would otherwise end or skip a chain unseen. The copied
 * links are rebuilt from the rows (the previous stored revision of the oid): the old layout never
 * read prev_tid, and its packs left the oldest kept revision naming a removed one.
 */
const revisionsByTid: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('revision')
      .addColumn('tid', 'integer', (c) => c.notNull())
      .addColumn('oid', 'integer', (c) => c.notNull())
      .addColumn('prev_tid', 'integer')
      .addColumn('deleted', 'integer', (c) => c.notNull())
      .addColumn('data', 'blob')
      .addColumn('refs', 'blob')
      .addColumn('crc', 'integer')
      .addColumn('link', 'integer')
      .addPrimaryKeyConstraint('revision_pk', ['tid', 'oid'])
      .modifyEnd(sql`without rowid`)
      .execute();
    await db.schema
      .createTable('object_current')
      .addColumn('oid', 'integer', (c) => c.primaryKey())
      .addColumn('tid', 'integer', (c) => c.notNull())
      .addColumn('deleted', 'integer', (c) => c.notNull())
      .addColumn('crc', 'integer')
      .modifyEnd(sql`without rowid`)
      .execute();
    const link = sql.raw(LINK_CHECKSUM_FUNCTION);
    await sql`insert into revision (tid, oid, prev_tid, deleted, data, refs, crc, link)
      select tid, oid, prev, deleted, data, refs, crc, ${link}(oid, tid, prev, deleted)
      from (select *, lag(tid) over (partition by oid order by tid) as prev from object_revision)
      order by tid, oid`.execute(db);
    // SQLite takes the bare column `deleted` from the row holding max(tid).
    await sql`insert into object_current (oid, tid, deleted, crc)
      select oid, tid, deleted, ${sql.raw(POINTER_CHECKSUM_FUNCTION)}(oid, tid, deleted)
      from (select oid, max(tid) as tid, deleted from object_revision group by oid) order by oid`.execute(db);
    await db.schema.dropTable('object_revision').execute();
  },
};

/** 0002: chunked blob tables. */
const blobTables: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('blob')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('created', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('blob_revision')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('blob_id', 'integer', (c) => c.notNull())
      .addColumn('revision', 'integer')
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('oid', 'integer', (c) => c.notNull())
      .addColumn('size', 'integer', (c) => c.notNull())
      .addColumn('chunk_size', 'integer', (c) => c.notNull())
      .addColumn('refcount', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('token', 'text')
      .addColumn('base_id', 'integer')
      .addColumn('base_limit', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('depth', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex('blob_revision_by_base').on('blob_revision').column('base_id').execute();
    await db.schema.createIndex('blob_revision_by_blob').unique().on('blob_revision').columns(['blob_id', 'revision']).execute();
    await db.schema.createIndex('blob_revision_by_token').on('blob_revision').column('token').execute();
    await db.schema.createIndex('blob_revision_by_refcount').on('blob_revision').columns(['state', 'refcount']).execute();
    await db.schema
      .createTable('revision_chunk')
      .addColumn('revision_id', 'integer', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('chunk_id', 'integer', (c) => c.notNull())
      .addColumn('own', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('revision_chunk_pk', ['revision_id', 'seq'])
      .modifyEnd(sql`without rowid`)
      .execute();
    await db.schema.createIndex('revision_chunk_by_chunk').on('revision_chunk').column('chunk_id').execute();
    await db.schema
      .createTable('chunk')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('data', 'blob', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('blob_txn')
      .addColumn('token', 'text', (c) => c.primaryKey())
      .addColumn('tid', 'integer', (c) => c.notNull())
      .modifyEnd(sql`without rowid`)
      .execute();
    await db.schema
      .createTable('pending_ref')
      .addColumn('token', 'text', (c) => c.notNull())
      .addColumn('blob_id', 'integer', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('pending_ref_pk', ['token', 'blob_id', 'revision'])
      .modifyEnd(sql`without rowid`)
      .execute();
  },
};

/** 0001 of a blob file: its meta table (the database id). */
const blobMeta: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await createMetaTable(db);
  },
};

/** 0003 of a blob file: the witness oid of a prepared transaction (decides references-only ones at recover). */
const blobTxnWitness: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('blob_txn').addColumn('witness', 'integer').execute();
  },
};

async function hasColumn(db: Kysely<unknown>, table: string, column: string): Promise<boolean> {
  const { rows } = await sql<{ name: string }>`select name from pragma_table_info(${table})`.execute(db);
  return rows.some((row) => row.name === column);
}

/**
 * 0004 of a blob file: chunk checksums and recorded holes.
 * - `chunk.crc`: CRC-32 of the chunk's bytes. Existing chunks get theirs here, 64 chunks per
 *   statement with an event-loop yield between (resumable: an interrupted run continues with the
 *   rows still null).
 * - `revision_hole`: ranges of chunk numbers a revision zero-extended without storing rows. An
 *   unmapped chunk inside the size of a revision reads as zeros only inside such a range.
 * - `blob_revision.holes`: 1 for revisions whose holes are recorded (every revision made from now
 *   on); 0 for the revisions that existed before, whose unmapped chunks keep reading as zeros.
 */
const blobChunkChecks: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    if (!(await hasColumn(db, 'chunk', 'crc'))) await db.schema.alterTable('chunk').addColumn('crc', 'integer').execute();
    if (!(await hasColumn(db, 'blob_revision', 'holes'))) {
      await db.schema.alterTable('blob_revision').addColumn('holes', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    }
    await db.schema
      .createTable('revision_hole')
      .ifNotExists()
      .addColumn('revision_id', 'integer', (c) => c.notNull())
      .addColumn('start_seq', 'integer', (c) => c.notNull())
      .addColumn('end_seq', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('revision_hole_pk', ['revision_id', 'start_seq'])
      .modifyEnd(sql`without rowid`)
      .execute();
    let after = -1n;
    for (;;) {
      const { rows } = await sql<{ last: bigint | number | null }>`select max(id) as last from
        (select id from chunk where id > ${after} order by id limit ${BACKFILL_BATCH})`.execute(db);
      const last = rows[0]?.last;
      if (last === null || last === undefined) break;
      await sql`update chunk set crc = ${sql.raw(CHECKSUM_FUNCTION)}(data) where id > ${after} and id <= ${last} and crc is null`.execute(db);
      after = BigInt(last);
      await yieldToLoop();
    }
  },
};

/** Migration names of each file role, in order; the name sorts as the version. */
export const MIGRATION_NAMES = Object.freeze({
  records: ['0001_storage_tables', '0002_record_checksums', '0003_revisions_by_tid'],
  blobs: ['0001_blob_meta', '0002_blob_tables', '0003_blob_txn_witness', '0004_blob_chunk_checks'],
} as const);

const MIGRATIONS: Readonly<Record<FileRole, Record<string, Migration>>> = {
  records: {
    [MIGRATION_NAMES.records[0]]: storageTables,
    [MIGRATION_NAMES.records[1]]: recordChecksums,
    [MIGRATION_NAMES.records[2]]: revisionsByTid,
  },
  blobs: {
    [MIGRATION_NAMES.blobs[0]]: blobMeta,
    [MIGRATION_NAMES.blobs[1]]: blobTables,
    [MIGRATION_NAMES.blobs[2]]: blobTxnWitness,
    [MIGRATION_NAMES.blobs[3]]: blobChunkChecks,
  },
};

/** The in-code MigrationProvider holding every schema version of a `role` file. */
export function migrationProvider(role: FileRole): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return MIGRATIONS[role];
    },
  };
}

/** The names of the migrations this version knows for a file of `role`, in order. */
export function migrationNames(role: FileRole): string[] {
  return Object.keys(MIGRATIONS[role]).sort();
}
