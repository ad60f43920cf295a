/**
 * Chunk-level access to blob revisions: the blob handlerton's hot paths, as kysely-built statements
 * prepared once and executed synchronously, one short statement or write transaction at a time.
 *
 * A revision maps chunk numbers (`seq`) to chunk rows; a draft based on a revision starts with a
 * copy of that map (`own` = 0) and replaces a chunk by a private one (`own` = 1) on its first write,
 * so unchanged chunks stay shared.
 */
import { ChunkWriter } from './chunk-writer.js';
import type { SqliteConnection } from './connection.js';
import { arg } from './prepared.js';

function chunkStatements(conn: SqliteConnection) {
  return {
    readChunk: conn.query('b.readChunk', (k) =>
      k.selectFrom('revision_chunk as rc').innerJoin('chunk as c', 'c.id', 'rc.chunk_id').select('c.data')
        .where('rc.revision_id', '=', arg<bigint>('rev')).where('rc.seq', '=', arg<bigint>('seq')),
    ),
    mapping: conn.query('b.mapping', (k) =>
      k.selectFrom('revision_chunk').select(['chunk_id', 'own'])
        .where('revision_id', '=', arg<bigint>('rev')).where('seq', '=', arg<bigint>('seq')),
    ),
    insertChunk: conn.query('b.insertChunk', (k) => k.insertInto('chunk').values({ data: arg<Uint8Array>('data') })),
    updateChunk: conn.query('b.updateChunk', (k) =>
      k.updateTable('chunk').set({ data: arg<Uint8Array>('data') }).where('id', '=', arg<bigint>('id')),
    ),
    upsertMapping: conn.query('b.upsertMapping', (k) =>
      k.insertInto('revision_chunk')
        .values({ revision_id: arg<bigint>('rev'), seq: arg<bigint>('seq'), chunk_id: arg<bigint>('chunk'), own: 1 })
        .onConflict((oc) => oc.columns(['revision_id', 'seq']).doUpdateSet((e) => ({ chunk_id: e.ref('excluded.chunk_id'), own: 1 }))),
    ),
    copyMapping: conn.query('b.copyMapping', (k) =>
      k.insertInto('revision_chunk').orIgnore().columns(['revision_id', 'seq', 'chunk_id', 'own'])
        .expression((e) =>
          e.selectFrom('revision_chunk')
            .select([e.val(arg<bigint>('to')).as('revision_id'), 'seq', 'chunk_id', e.lit(0).as('own')])
            .where('revision_id', '=', arg<bigint>('from')).where('seq', '<', arg<bigint>('below')),
        ),
    ),
    deleteOwnedChunks: conn.query('b.deleteOwnedChunks', (k) =>
      k.deleteFrom('chunk').where('id', 'in', (e) =>
        e.selectFrom('revision_chunk').select('chunk_id')
          .where('revision_id', '=', arg<bigint>('rev')).where('seq', '>=', arg<bigint>('from')).where('seq', '<', arg<bigint>('to'))
          .where('own', '=', 1n),
      ),
    ),
    deleteUnsharedChunks: conn.query('b.deleteUnsharedChunks', (k) =>
      k.deleteFrom('chunk')
        .where('id', 'in', (e) =>
          e.selectFrom('revision_chunk').select('chunk_id')
            .where('revision_id', '=', arg<bigint>('rev')).where('seq', '>=', arg<bigint>('from')).where('seq', '<', arg<bigint>('to')),
        )
        .where((e) =>
          e.not(e.exists(
            e.selectFrom('revision_chunk as other').select('other.seq')
              .whereRef('other.chunk_id', '=', 'chunk.id').where('other.revision_id', '<>', arg<bigint>('rev2')),
          )),
        ),
    ),
    deleteMappingRange: conn.query('b.deleteMappingRange', (k) =>
      k.deleteFrom('revision_chunk')
        .where('revision_id', '=', arg<bigint>('rev')).where('seq', '>=', arg<bigint>('from')).where('seq', '<', arg<bigint>('to')),
    ),
    setBaseLimit: conn.query('b.setBaseLimit', (k) =>
      k.updateTable('blob_revision').set({ base_limit: arg<number>('limit') }).where('id', '=', arg<bigint>('id')),
    ),
    maxSeq: conn.query('b.maxSeq', (k) =>
      k.selectFrom('revision_chunk').select((e) => e.fn.max('seq').as('seq')).where('revision_id', '=', arg<bigint>('rev')),
    ),
  };
}

/** Chunk bytes written between two background flushes of the WAL (so the synced prepare has little left). */
const WAL_FLUSH_EVERY = 16 * 1024 * 1024;

/**
 * One level of a revision's base chain: revision row `id`, whose chunks show through below byte
 * `limit` (Infinity for the revision itself).
 */
export interface ChainLevel {
  readonly id: bigint;
  limit: number;
}

/** Chunk reads and writes of revisions and drafts, by revision row id. */
export class ChunkStore {
  private readonly sql: ReturnType<typeof chunkStatements>;
  private sinceFlush = 0;

  constructor(readonly conn: SqliteConnection) {
    this.sql = chunkStatements(conn);
    conn.chunkWriter ??= startThread(() => new ChunkWriter({
      file: conn.file,
      busyTimeoutMs: conn.options.busyTimeoutMs,
      mapping: this.sql.mapping.portable(),
      updateChunk: this.sql.updateChunk.portable(),
      insertChunk: this.sql.insertChunk.portable(),
      upsertMapping: this.sql.upsertMapping.portable(),
    }));
  }

  /** The bytes of chunk `seq` as revision `chain[0]` sees it (undefined: a hole, reads as zeros). */
  readChunk(chain: readonly ChainLevel[], seq: number, chunkSize: number): Uint8Array | undefined {
    return this.conn.read('reading a blob chunk', () => {
      for (const level of chain) {
        if (seq * chunkSize >= level.limit) return undefined;
        const row = this.sql.readChunk.get({ rev: level.id, seq });
        if (row !== undefined) return row.data;
      }
      return undefined;
    });
  }

  /**
   * Replaces chunk `seq` of draft `rev`: in place when the draft owns it, else as a new private chunk.
   * Runs in the chunk-writer thread (this file's lane keeps it apart from other writes), or here when
   * the thread is not available.
   */
  async writeChunk(rev: bigint, seq: number, data: Uint8Array): Promise<void> {
    await this.conn.lane.run(async () => {
      const writer = this.conn.chunkWriter;
      if (writer?.alive !== true) {
        this.writeChunkHere(rev, seq, data);
        return;
      }
      this.conn.check();
      try {
        await writer.write(rev, seq, data);
      } catch (error) {
        throw this.conn.fail(error, 'writing a blob chunk');
      }
    });
    this.sinceFlush += data.length;
    if (this.sinceFlush >= WAL_FLUSH_EVERY) {
      this.sinceFlush = 0;
      this.conn.presyncInBackground();
    }
  }

  private writeChunkHere(rev: bigint, seq: number, data: Uint8Array): void {
    this.conn.writeRelaxed('writing a blob chunk', () => {
      const current = this.sql.mapping.get({ rev, seq });
      if (current !== undefined && current.own !== 0n) {
        this.sql.updateChunk.run({ id: current.chunk_id, data });
      } else {
        const { lastInsertRowid } = this.sql.insertChunk.run({ data });
        this.sql.upsertMapping.run({ rev, seq, chunk: lastInsertRowid });
      }
    });
  }

  /**
   * Gives draft `to` the complete chunk map that `chain` (a revision and its bases) resolves to:
   * shared chunks, no bytes copied (used to flatten a deep chain). Runs inside the caller's transaction.
   */
  flattenInto(chain: readonly ChainLevel[], to: bigint, chunkSize: number): void {
    for (const level of chain) {
      const below = Number.isFinite(level.limit) ? Math.ceil(level.limit / chunkSize) : Number.MAX_SAFE_INTEGER;
      this.sql.copyMapping.run({ from: level.id, to, below });
    }
  }

  /** Drops chunks [from, to) of a draft (its private chunks are deleted). */
  async dropDraftRange(rev: bigint, from: number, to: number): Promise<void> {
    await this.conn.writeRelaxedQueued('dropping draft chunks', () => {
      this.sql.deleteOwnedChunks.run({ rev, from, to });
      this.sql.deleteMappingRange.run({ rev, from, to });
    });
  }

  /** Drops chunks [from, to) of a reclaimed revision, deleting chunks no other revision shares. */
  async dropRevisionRange(rev: bigint, from: number, to: number): Promise<void> {
    await this.conn.writeRelaxedQueued('reclaiming blob chunks', () => {
      this.sql.deleteUnsharedChunks.run({ rev, rev2: rev, from, to });
      this.sql.deleteMappingRange.run({ rev, from, to });
    });
  }

  /** Lowers how much of its base draft `chain[0]` sees to `size` bytes (after a truncate). */
  async limitBase(chain: ChainLevel[], size: number): Promise<void> {
    if (chain.length < 2 || chain[1]!.limit <= size) return;
    for (const level of chain.slice(1)) level.limit = Math.min(level.limit, size);
    await this.conn.writeRelaxedQueued('truncating a draft', () => this.sql.setBaseLimit.run({ id: chain[0]!.id, limit: size }));
  }

  /** One past the highest mapped chunk number of `rev` (0 when it has none). */
  chunkCount(rev: bigint): number {
    const seq = this.conn.read('counting chunks', () => this.sql.maxSeq.get({ rev })?.seq);
    return seq === undefined || seq === null ? 0 : Number(seq) + 1;
  }
}

/** Starts a helper thread; undefined when it cannot start (the store then works on its own connection). */
function startThread<T>(start: () => T): T | undefined {
  try {
    return start();
  } catch {
    return undefined;
  }
}
