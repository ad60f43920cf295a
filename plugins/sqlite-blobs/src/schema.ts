/**
 * The kysely `Database` interface of the engine: every table, typed.
 *
 * Integers are read as bigint (the connection runs with `defaultSafeIntegers(true)`, because tids
 * exceed 2^53), and accept number or bigint on insert.
 */
import type { ColumnType } from 'kysely';

/** An INTEGER column: read as bigint, written as number or bigint. */
export type Int = ColumnType<bigint, bigint | number, bigint | number>;
/** An INTEGER PRIMARY KEY assigned by SQLite. */
export type AutoInt = ColumnType<bigint, bigint | number | undefined, never>;

/** Key/value facts about the database (database id, ...). */
export interface MetaTable {
  key: string;
  value: string;
}

/** One committed storage transaction. */
export interface TxnTable {
  tid: Int;
  user: string;
  description: string;
  /** JSON text of the extension object. */
  extension: string;
  /** ' ' committed, 'p' touched by pack. */
  status: string;
  /** The oids the transaction wrote, ascending, 8 bytes big-endian each (the iterator's index). */
  oids: Uint8Array;
  /** txnChecksum() of the row (0002); null only while the 0002 backfill runs (a damaged row otherwise). */
  crc: ColumnType<bigint | null, bigint | number | null | undefined, bigint | number | null>;
}

/** The newest revision of each object (0003): its tid and delete flag (the row of `revision` it names). */
export interface ObjectCurrentTable {
  oid: Int;
  tid: Int;
  /** 1 when the newest revision is a delete marker. */
  deleted: Int;
  /** pointerChecksum() of the row. */
  crc: ColumnType<bigint | null, bigint | number | null, bigint | number | null>;
}

/** The records file's revisions until migration 0003 (primary key (oid, tid)); 0003 copies them into `revision`. */
export type ObjectRevisionTable = Omit<RevisionTable, 'link'>;

/** One revision of one object (or a delete marker). Primary key (tid, oid) since 0003; no other index. */
export interface RevisionTable {
  oid: Int;
  tid: Int;
  /** Tid of the revision this one replaced (null for the first). */
  prev_tid: ColumnType<bigint | null, bigint | number | null, bigint | number | null>;
  /** 1 for a delete marker. */
  deleted: Int;
  data: Uint8Array | null;
  /** encodeRefs() bytes, null when the record references nothing. */
  refs: Uint8Array | null;
  /** recordChecksum() of the row (0002); null only while the 0002 backfill runs (a damaged row otherwise). */
  crc: ColumnType<bigint | null, bigint | number | null | undefined, bigint | number | null>;
  /** linkChecksum() of oid, tid, prev_tid and deleted (0003): the chain walks check it. */
  link: ColumnType<bigint | null, bigint | number | null, bigint | number | null>;
}

/** A blob: only allocates ids (never reused). */
export interface BlobTable {
  id: AutoInt;
  created: Int;
}

/** One revision (or draft) of a blob. */
export interface BlobRevisionTable {
  id: AutoInt;
  blob_id: Int;
  /** The committing tid; null while a draft. */
  revision: ColumnType<bigint | null, bigint | number | null, bigint | number | null>;
  /** 'draft', 'prepared', 'committed', or 'retired' (reclaimed but still the base of another revision). */
  state: string;
  oid: Int;
  size: Int;
  chunk_size: Int;
  /** Record references (open readers are counted in memory). */
  refcount: Int;
  /** The blob transaction that owns a draft or prepared revision. */
  token: string | null;
  /** The revision this one reads unchanged chunks from (null: its map is complete). */
  base_id: ColumnType<bigint | null, bigint | number | null, bigint | number | null>;
  /** Bytes of the base that show through (a truncate lowers it; beyond it, unmapped chunks are zeros). */
  base_limit: Int;
  /** Length of the base chain (bounded: a deep chain is flattened when the next draft starts). */
  depth: Int;
  /** 1: its holes are recorded in revision_hole (0004); 0: older, an unmapped chunk reads as zeros. */
  holes: ColumnType<bigint, bigint | number | undefined, bigint | number>;
}

/** Maps byte range `seq` of a revision to a chunk; chunks are shared between revisions. */
export interface RevisionChunkTable {
  revision_id: Int;
  seq: Int;
  chunk_id: Int;
  /** 1 when this revision created the chunk (it may overwrite it in place while a draft). */
  own: Int;
}

/** Chunk bytes (at most the revision's chunk size; missing tail bytes read as zeros). */
export interface ChunkTable {
  id: AutoInt;
  data: Uint8Array;
  /** CRC-32 of `data` (0004), checked on every read. */
  crc: ColumnType<bigint | null, bigint | number, bigint | number>;
}

/**
 * Chunks [start_seq, end_seq) of a revision that read as zeros without a row (a zero-extending
 * truncate or a write past the end); outside such a range, an unmapped chunk is damage.
 */
export interface RevisionHoleTable {
  revision_id: Int;
  start_seq: Int;
  end_seq: Int;
}

/** A prepared blob transaction (between prepare and commit). */
export interface BlobTxnTable {
  token: string;
  tid: Int;
  /** An oid the storage transaction `tid` stored (0003; null when prepare was given none). */
  witness: Int | null;
}

/** Record references counted when a prepared blob transaction commits. */
export interface PendingRefTable {
  token: string;
  blob_id: Int;
  revision: Int;
  count: Int;
}

/** The whole schema, as kysely sees it. */
export interface DB {
  meta: MetaTable;
  txn: TxnTable;
  object_revision: ObjectRevisionTable;
  revision: RevisionTable;
  object_current: ObjectCurrentTable;
  blob: BlobTable;
  blob_revision: BlobRevisionTable;
  revision_chunk: RevisionChunkTable;
  chunk: ChunkTable;
  revision_hole: RevisionHoleTable;
  blob_txn: BlobTxnTable;
  pending_ref: PendingRefTable;
}
