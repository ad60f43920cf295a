/**
 * Chunk-level access to blob revisions: the blob handlerton's hot paths, as kysely-built statements
 * prepared once and executed synchronously, one short statement or write transaction at a time.
 *
 * A revision maps chunk numbers (`seq`) to chunk rows; a draft based on a revision starts with a
 * copy of that map (`own` = 0) and replaces a chunk by a private one (`own` = 1) on its first write,
 * so unchanged chunks stay shared.
 *
 * Every chunk row carries its CRC-32, checked on every read (chunk-check.ts). Sparse regions store
 * nothing: a zero-extension records a hole (a range of chunk numbers in `revision_hole`), and an
 * unmapped chunk inside a revision's size reads as zeros only inside a recorded hole; anywhere else it
 * is damage (CorruptionError), never zeros.
 */
import { chunkChecksum, chunkCorruption, type ChunkOwner } from './chunk-check.js';
import { ChunkWriter } from './chunk-writer.js';
import type { SqliteConnection } from './connection.js';
import { arg } from './prepared.js';
import { sqliteCode } from './sql-errors.js';
import { yieldToLoop } from './yield.js';

/** Chunks dropped per write transaction when a draft shrinks or is discarded. */
export const DROP_BATCH = 64;

function chunkStatements(conn: SqliteConnection) {
  return {
    readChunk: conn.query('b.readChunk', (k) =>
      k.selectFrom('revision_chunk as rc').leftJoin('chunk as c', 'c.id', 'rc.chunk_id').select(['rc.chunk_id', 'c.data', 'c.crc'])
        .where('rc.revision_id', '=', arg<bigint>('rev')).where('rc.seq', '=', arg<bigint>('seq')),
    ),
    inHole: conn.query('b.inHole', (k) =>
      k.selectFrom('revision_hole').select('end_seq')
        .where('revision_id', '=', arg<bigint>('rev')).where('start_seq', '<=', arg<bigint>('seq')).where('end_seq', '>', arg<bigint>('seq2'))
        .limit(1),
    ),
    hasHoles: conn.query('b.hasHoles', (k) =>
      k.selectFrom('revision_hole').select('start_seq').where('revision_id', '=', arg<bigint>('rev')).limit(1),
    ),
    addHole: conn.query('b.addHole', (k) =>
      k.insertInto('revision_hole')
        .values({ revision_id: arg<bigint>('rev'), start_seq: arg<bigint>('from'), end_seq: arg<bigint>('to') })
        .onConflict((oc) => oc.columns(['revision_id', 'start_seq']).doUpdateSet((e) => ({
          end_seq: e.fn('max', [e.ref('revision_hole.end_seq'), e.ref('excluded.end_seq')]),
        }))),
    ),
    dropHolesFrom: conn.query('b.dropHolesFrom', (k) =>
      k.deleteFrom('revision_hole').where('revision_id', '=', arg<bigint>('rev')).where('start_seq', '>=', arg<bigint>('from')),
    ),
    clipHoles: conn.query('b.clipHoles', (k) =>
      k.updateTable('revision_hole').set({ end_seq: arg<bigint>('to') })
        .where('revision_id', '=', arg<bigint>('rev')).where('end_seq', '>', arg<bigint>('to2')),
    ),
    copyHoles: conn.query('b.copyHoles', (k) =>
      k.insertInto('revision_hole').columns(['revision_id', 'start_seq', 'end_seq'])
        .expression((e) =>
          e.selectFrom('revision_hole')
            .select([e.val(arg<bigint>('to')).as('revision_id'), 'start_seq', e.fn<bigint>('min', [e.ref('end_seq'), e.val(arg<bigint>('below'))]).as('end_seq')])
            .where('revision_id', '=', arg<bigint>('from')).where('start_seq', '<', arg<bigint>('below2')),
        )
        .onConflict((oc) => oc.columns(['revision_id', 'start_seq']).doUpdateSet((e) => ({
          end_seq: e.fn('max', [e.ref('revision_hole.end_seq'), e.ref('excluded.end_seq')]),
        }))),
    ),
    deleteHoles: conn.query('b.deleteHoles', (k) => k.deleteFrom('revision_hole').where('revision_id', '=', arg<bigint>('rev'))),
    nextSeqs: conn.query('b.nextSeqs', (k) =>
      k.selectFrom('revision_chunk').select('seq')
        .where('revision_id', '=', arg<bigint>('rev')).where('seq', '>=', arg<bigint>('from'))
        .orderBy('seq').limit(DROP_BATCH),
    ),
    mapping: conn.query('b.mapping', (k) =>
      k.selectFrom('revision_chunk').select(['chunk_id', 'own'])
        .where('revision_id', '=', arg<bigint>('rev')).where('seq', '=', arg<bigint>('seq')),
    ),
    insertChunk: conn.query('b.insertChunk', (k) =>
      k.insertInto('chunk').values({ data: arg<Uint8Array>('data'), crc: arg<number>('crc') }),
    ),
    updateChunk: conn.query('b.updateChunk', (k) =>
      k.updateTable('chunk').set({ data: arg<Uint8Array>('data'), crc: arg<number>('crc') }).where('id', '=', arg<bigint>('id')),
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
  /** False for a revision made before holes were recorded (0004): its unmapped chunks read as zeros. */
  readonly recorded: boolean;
  /** Whether the level has at least one recorded hole (spares the hole lookup on dense revisions). */
  hasHoles: boolean;
}

/** Chunk reads and writes of revisions and drafts, by revision row id. */
export class ChunkStore {
  private readonly sql: ReturnType<typeof chunkStatements>;
  private sinceFlush = 0;

  constructor(readonly conn: SqliteConnection) {
    this.sql = chunkStatements(conn);
    // Read-only: no thread (every write is refused before it would reach one).
    if (conn.readOnly) return;
    conn.chunkWriter ??= startThread(() => new ChunkWriter({
      file: conn.file,
      busyTimeoutMs: conn.options.busyTimeoutMs,
      mapping: this.sql.mapping.portable(),
      updateChunk: this.sql.updateChunk.portable(),
      insertChunk: this.sql.insertChunk.portable(),
      upsertMapping: this.sql.upsertMapping.portable(),
    }));
  }

  /**
   * The bytes of chunk `seq` as revision `chain[0]` sees it, checksum verified (undefined: a recorded
   * hole, reads as zeros). Only for chunks inside the revision's size: an unmapped chunk outside every
   * recorded hole, a mapping whose chunk row is gone, or bytes that fail their checksum raise
   * CorruptionError naming `owner`, the chunk's offset in the blob and the database file.
   */
  readChunk(chain: readonly ChainLevel[], seq: number, chunkSize: number, owner: ChunkOwner): Uint8Array | undefined {
    return this.conn.read('reading a blob chunk', () => {
      try {
        return this.findChunk(chain, seq, chunkSize, owner);
      } catch (error) {
        const code = sqliteCode(error);
        if (code?.startsWith('SQLITE_CORRUPT') === true || code === 'SQLITE_NOTADB') {
          throw chunkCorruption(owner, seq, chunkSize, this.conn.file, `cannot be read: ${(error as Error).message} (${code})`, error);
        }
        throw error;
      }
    });
  }

  private findChunk(chain: readonly ChainLevel[], seq: number, chunkSize: number, owner: ChunkOwner): Uint8Array | undefined {
    let unrecorded = false;
    for (const level of chain) {
      if (seq * chunkSize >= level.limit) break;
      const row = this.sql.readChunk.get({ rev: level.id, seq });
      if (row !== undefined) return this.verified(row, seq, chunkSize, owner);
      if (!level.recorded) unrecorded = true;
      else if (level.hasHoles && this.sql.inHole.get({ rev: level.id, seq, seq2: seq }) !== undefined) return undefined;
    }
    if (unrecorded) return undefined;
    throw chunkCorruption(owner, seq, chunkSize, this.conn.file, 'is missing: no chunk row maps it and no recorded hole covers it');
  }

  /** The bytes of a chunk row, after checking that the row exists, has its checksum and fits the chunk size. */
  private verified(
    row: { chunk_id: bigint; data: Uint8Array | null; crc: bigint | null },
    seq: number,
    chunkSize: number,
    owner: ChunkOwner,
  ): Uint8Array {
    let problem: string;
    if (row.data === null) problem = `is mapped to chunk row ${row.chunk_id}, which is missing`;
    else if (row.crc === null) problem = `has no checksum (chunk row ${row.chunk_id})`;
    else if (row.data.length > chunkSize) problem = `is ${row.data.length} bytes long (chunk row ${row.chunk_id})`;
    else {
      const actual = chunkChecksum(row.data);
      if (Number(row.crc) === actual) return row.data;
      problem = `fails its checksum (chunk row ${row.chunk_id}: stored ${row.crc}, computed ${actual})`;
    }
    throw chunkCorruption(owner, seq, chunkSize, this.conn.file, problem);
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
    const crc = chunkChecksum(data);
    this.conn.writeRelaxed('writing a blob chunk', () => {
      const current = this.sql.mapping.get({ rev, seq });
      if (current !== undefined && current.own !== 0n) {
        this.sql.updateChunk.run({ id: current.chunk_id, data, crc });
      } else {
        const { lastInsertRowid } = this.sql.insertChunk.run({ data, crc });
        this.sql.upsertMapping.run({ rev, seq, chunk: lastInsertRowid });
      }
    });
  }

  /** Records chunks [from, to) of draft `level` as a hole (zero-extended, no rows). */
  async addHole(level: ChainLevel, from: number, to: number): Promise<void> {
    if (to <= from) return;
    await this.conn.writeRelaxedQueued('extending a draft with zeros', () => this.sql.addHole.run({ rev: level.id, from, to }));
    level.hasHoles = true;
  }

  /**
   * Gives draft `to` the complete chunk map that `chain` (a revision and its bases) resolves to:
   * shared chunks, no bytes copied, and the holes each level shows (used to flatten a deep chain).
   * Runs inside the caller's transaction.
   */
  flattenInto(chain: readonly ChainLevel[], to: bigint, chunkSize: number): void {
    for (const level of chain) {
      const below = Number.isFinite(level.limit) ? Math.ceil(level.limit / chunkSize) : Number.MAX_SAFE_INTEGER;
      this.sql.copyMapping.run({ from: level.id, to, below });
      if (level.hasHoles) this.sql.copyHoles.run({ from: level.id, to, below, below2: below });
    }
  }

  /** Whether revision row `rev` has recorded holes. */
  hasHoles(rev: bigint): boolean {
    return this.conn.read('reading blob holes', () => this.sql.hasHoles.get({ rev }) !== undefined);
  }

  /**
   * Drops every chunk of draft `rev` from chunk `from` on (its private chunks are deleted) and its
   * holes there, in short write transactions of at most DROP_BATCH mapped chunks: the cost follows the
   * rows that exist, not the size (a sparse draft 2^40 bytes long drops as fast as an empty one).
   */
  async dropDraftFrom(rev: bigint, from: number): Promise<void> {
    await this.conn.writeRelaxedQueued('dropping draft holes', () => {
      this.sql.dropHolesFrom.run({ rev, from });
      this.sql.clipHoles.run({ rev, to: from, to2: from });
    });
    await this.dropMapped(rev, from, (lo, hi) =>
      this.conn.writeRelaxedQueued('dropping draft chunks', () => {
        this.sql.deleteOwnedChunks.run({ rev, from: lo, to: hi });
        this.sql.deleteMappingRange.run({ rev, from: lo, to: hi });
      }),
    );
  }

  /** Drops every chunk and hole of a reclaimed revision, deleting chunks no other revision shares. */
  async dropRevision(rev: bigint): Promise<void> {
    await this.conn.writeRelaxedQueued('reclaiming blob holes', () => this.sql.deleteHoles.run({ rev }));
    await this.dropMapped(rev, 0, (lo, hi) =>
      this.conn.writeRelaxedQueued('reclaiming blob chunks', () => {
        this.sql.deleteUnsharedChunks.run({ rev, rev2: rev, from: lo, to: hi });
        this.sql.deleteMappingRange.run({ rev, from: lo, to: hi });
      }),
    );
  }

  /** Calls `drop(lo, hi)` over the mapped chunks of `rev` from `from` on, DROP_BATCH rows at a time. */
  private async dropMapped(rev: bigint, from: number, drop: (lo: number, hi: number) => Promise<void>): Promise<void> {
    let next = from;
    for (;;) {
      const seqs = this.conn.read('listing blob chunks', () => this.sql.nextSeqs.all({ rev, from: next }));
      const last = seqs[seqs.length - 1];
      if (last === undefined) return;
      const end = Number(last.seq) + 1;
      await drop(next, end);
      next = end;
      await yieldToLoop();
    }
  }

  /** Lowers how much of its base draft `chain[0]` sees to `size` bytes (after a truncate). */
  async limitBase(chain: ChainLevel[], size: number): Promise<void> {
    if (chain.length < 2 || chain[1]!.limit <= size) return;
    for (const level of chain.slice(1)) level.limit = Math.min(level.limit, size);
    await this.conn.writeRelaxedQueued('truncating a draft', () => this.sql.setBaseLimit.run({ id: chain[0]!.id, limit: size }));
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
