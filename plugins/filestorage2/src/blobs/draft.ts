/**
 * A draft: the uncommitted data of one blob in one transaction, as a directory of chunk files
 * under tmp/. A draft based on a revision starts as hard links to the revision's chunks (shared,
 * never written); the first write to a shared chunk copies that one chunk (copy-on-write).
 * Chunks that hold only zeros after a zero-extension have no file (holes, recorded in HOLES).
 * Every chunk file gets its block checksums when it is closed or prepared (chunk-file.ts).
 */
import { join } from 'node:path';
import type { BlobDraft, BlobId } from '@handlerton/framework';
import { toHex } from '@handlerton/framework';
import {
  CorruptionError,
  isHandlertonError,
  StorageIOError,
  StorageTransactionError,
  TransactionClosedError,
} from '@handlerton/framework';
import { assertBytes, assertMaxSize, assertOffset } from './checks.js';
import { readSeal, sealChunk, shareChunks, unsealChunk } from './chunk-file.js';
import { ChunkSums } from './chunk-sums.js';
import { FsOps, hasCode, ioError } from './fs-ops.js';
import { HoleSet, writeHoles } from './holes.js';
import { chunkCount, chunkName } from './layout.js';
import { LastBlock, readVerified } from './verified-read.js';
import type { SealedChunk } from './verified-read.js';
import { SerialQueue } from './serial-queue.js';

/** Chunk files a draft keeps open; more are synced (when durable) and closed, oldest first. */
const OPEN_CHUNKS = 8;
/** Background syncs of evicted chunks allowed in flight before a write waits for one. */
const SYNCS_IN_FLIGHT = 2;

interface DraftChunk {
  fd: number;
  writable: boolean;
  dirty: boolean;
  /** A writable chunk's sums: its file has no trailer while it is open (null when read-only). */
  sums: ChunkSums | null;
  /** A read-only chunk's trailer, checked: reads of it are verified. */
  sealed: SealedChunk | null;
}


/** What a draft needs from its handlerton. */
export interface DraftEnvironment {
  readonly ops: FsOps;
  readonly chunkSize: number;
  /** fdatasync chunk files and the draft directory at prepare (false for syncMode 'none'). */
  readonly sync: boolean;
  /** Called with a failed fsync's error: the handlerton stops accepting writes. */
  readonly fatal: (error: StorageIOError) => void;
  /** Throws when the handlerton cannot accept writes (closed or failed). */
  readonly assertWritable: () => void;
}

type DraftState = 'open' | 'prepared' | 'closed';

/** The uncommitted data of one blob in one transaction. */
export class ChunkedDraft implements BlobDraft {
  readonly blobId: BlobId;
  /** The draft's directory under tmp/. */
  readonly dir: string;
  readonly #env: DraftEnvironment;
  readonly #queue = new SerialQueue();
  readonly #open = new Map<number, DraftChunk>();
  /** Chunks this draft owns (may write in place); the others are links to a committed revision. */
  readonly #private = new Set<number>();
  /** Chunks with no file: they read as zeros. */
  readonly #holes: HoleSet;
  readonly #syncs = new Set<Promise<void>>();
  #syncError: StorageIOError | null = null;
  readonly #lastBlock = new LastBlock();
  #size: number;
  #state: DraftState = 'open';

  private constructor(env: DraftEnvironment, blobId: BlobId, dir: string, size: number, holes: HoleSet) {
    this.#env = env;
    this.blobId = blobId;
    this.dir = dir;
    this.#size = size;
    this.#holes = holes;
  }

  /** Creates an empty draft directory, or one sharing the chunks of the revision in `base.dir`. */
  static async create(
    env: DraftEnvironment,
    blobId: BlobId,
    dir: string,
    base: { dir: string; size: number; holes: HoleSet } | null,
  ): Promise<ChunkedDraft> {
    const { ops } = env;
    try {
      await ops.mkdir(dir).catch(async (error: unknown) => {
        if (!hasCode(error, 'EEXIST')) throw error;
        await ops.rmTree(dir);
        await ops.mkdir(dir);
      });
      const holes = base === null ? new HoleSet() : HoleSet.copy(base.holes);
      const draft = new ChunkedDraft(env, blobId, dir, base?.size ?? 0, holes);
      if (base !== null) {
        const copied = await shareChunks(ops, base.dir, dir, holes.present(0, chunkCount(base.size, env.chunkSize)));
        for (const index of copied) draft.#private.add(index);
      }
      return draft;
    } catch (error) {
      await ops.rmTree(dir).catch(() => undefined);
      throw ioError(`creating blob draft ${dir}`, error);
    }
  }

  /** The draft's current size in bytes. */
  size(): number {
    return this.#size;
  }

  /** Reads up to `target.length` bytes at `position`; returns the count (0 at or past the end). */
  async read(target: Uint8Array, position: number): Promise<number> {
    assertBytes(target, 'read target');
    assertOffset(position, 'read position');
    return this.#queue.run(async () => {
      if (this.#state === 'closed') throw new TransactionClosedError('blob draft is closed: its transaction ended');
      const end = Math.min(this.#size, position + target.length);
      let done = 0;
      try {
        while (position + done < end) {
          const { index, offset, length } = this.#span(position + done, end);
          if (this.#holes.has(index)) {
            target.fill(0, done, done + length);
          } else {
            const chunk = await this.#chunk(index, false);
            if (chunk.sealed !== null) {
              await readVerified(this.#env.ops, chunk.sealed, target.subarray(done, done + length), offset, this.#lastBlock, this.#damage);
            } else {
              // a chunk this draft is writing: its bytes are not sealed yet
              const got = await this.#env.ops.readFully(chunk.fd, target, done, length, offset);
              if (got < length) target.fill(0, done + got, done + length);
            }
          }
          done += length;
        }
      } catch (error) {
        if (error instanceof CorruptionError) throw error;
        throw ioError(`reading blob draft ${this.dir}`, error);
      }
      return done;
    });
  }

  /** Writes `source` at `position`; writing past the end fills the gap with zeros. */
  async write(source: Uint8Array, position: number): Promise<void> {
    assertBytes(source, 'write source');
    assertOffset(position, 'write position');
    assertOffset(position + source.length, 'write end');
    assertMaxSize(position + source.length, `a write of ${source.length} bytes at ${position}`);
    return this.#mutate(async () => {
      if (position > this.#size) await this.#grow(position);
      const end = position + source.length;
      let done = 0;
      while (position + done < end) {
        const { index, offset, length } = this.#span(position + done, end);
        const chunk = await this.#chunk(index, true);
        const sums = chunk.sums!;
        if (offset + length > sums.length) sums.resize(offset + length);
        sums.invalidate(offset, length); // a write that fails half-way leaves them to be recomputed
        await this.#env.ops.writeFully(chunk.fd, source, done, length, offset);
        sums.wrote(source.subarray(done, done + length), offset);
        chunk.dirty = true;
        done += length;
        if (position + done > this.#size) this.#size = position + done;
      }
    });
  }

  /** Cuts or zero-extends the draft to `size` bytes. */
  async truncate(size: number): Promise<void> {
    assertOffset(size, 'truncate size');
    assertMaxSize(size, 'truncate');
    return this.#mutate(async () => {
      if (size > this.#size) await this.#grow(size);
      else if (size < this.#size) await this.#shrink(size);
    });
  }

  /** Makes the chunk files and their names durable; the draft becomes read-only. Returns its size. */
  prepare(): Promise<number> {
    return this.#queue.run(async () => {
      if (this.#state !== 'open') throw new StorageTransactionError('blob draft is already prepared or closed');
      const { ops, sync } = this.#env;
      const chunks = [...this.#open.values()];
      this.#open.clear();
      let sealed: unknown = null;
      try {
        for (const chunk of chunks) if (chunk.sums !== null) await this.#seal(chunk);
        if (!this.#holes.empty) await writeHoles(ops, this.dir, this.#holes, sync);
      } catch (error) {
        sealed = error;
      }
      // Every fsync runs at once (the file system batches them); fds close only after all settled.
      const syncs: Promise<void>[] = [...this.#syncs];
      if (sync && sealed === null) {
        for (const chunk of chunks) if (chunk.dirty) syncs.push(this.#durable(ops.fdatasync(chunk.fd), chunk.fd));
        syncs.push(this.#durable(ops.fsyncDir(this.dir), -1));
      }
      const results = await Promise.allSettled(syncs);
      const closed = await Promise.allSettled(chunks.map((chunk) => ops.close(chunk.fd)));
      if (sealed !== null) throw ioError(`preparing blob draft ${this.dir}`, sealed);
      const failure =
        results.find((r): r is PromiseRejectedResult => r.status === 'rejected') ??
        closed.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure !== undefined) throw ioError(`preparing blob draft ${this.dir}`, failure.reason);
      if (this.#syncError !== null) throw this.#syncError;
      this.#state = 'prepared';
      return this.#size;
    });
  }

  /** Marks the draft as published (its directory was renamed into place). */
  markCommitted(): void {
    this.#state = 'closed';
  }

  /** Closes its files and removes its directory. Never throws. */
  discard(): Promise<void> {
    return this.#queue.run(async () => {
      this.#state = 'closed';
      const chunks = [...this.#open.values()];
      this.#open.clear();
      for (const chunk of chunks) await this.#env.ops.close(chunk.fd).catch(() => undefined);
      await Promise.allSettled(this.#syncs);
      await this.#env.ops.rmTree(this.dir).catch(() => undefined);
    });
  }

  #mutate(task: () => Promise<void>): Promise<void> {
    return this.#queue.run(async () => {
      if (this.#state === 'closed') throw new TransactionClosedError('blob draft is closed: its transaction ended');
      if (this.#state === 'prepared') throw new StorageTransactionError('blob draft is prepared: it can no longer change');
      this.#env.assertWritable();
      if (this.#syncError !== null) throw this.#syncError;
      this.#lastBlock.bytes = null; // the cached block may be about to change
      try {
        await task();
      } catch (error) {
        if (isHandlertonError(error) && !(error instanceof StorageIOError)) throw error;
        throw ioError(`writing blob draft ${this.dir}`, error);
      }
    });
  }

  /** CorruptionError naming the blob, the draft, the offset in the blob and the file. */
  readonly #damage = (what: string, index: number, chunkOffset: number): CorruptionError =>
    new CorruptionError(
      `blob ${toHex(this.blobId)} (draft based on a committed revision): ${what} at blob offset ${index * this.#env.chunkSize + chunkOffset}`,
      this.#path(index),
      chunkOffset,
    );

  #span(at: number, end: number): { index: number; offset: number; length: number } {
    const { chunkSize } = this.#env;
    const index = Math.floor(at / chunkSize);
    const offset = at - index * chunkSize;
    return { index, offset, length: Math.min(end - at, chunkSize - offset) };
  }

  #path(index: number): string {
    return join(this.dir, chunkName(index));
  }

  /**
   * Zero-extends to `size`: the last chunk (if partial and not a hole) gets longer, every new
   * chunk is a hole (no file, no write: extending to 1 TiB costs one HOLES run).
   */
  async #grow(size: number): Promise<void> {
    const { chunkSize } = this.#env;
    const from = chunkCount(this.#size, chunkSize);
    const to = chunkCount(size, chunkSize);
    if (this.#size % chunkSize !== 0 && !this.#holes.has(from - 1)) {
      const last = from - 1;
      const chunk = await this.#chunk(last, true);
      chunk.sums!.resize(Math.min(chunkSize, size - last * chunkSize));
      chunk.dirty = true;
    }
    this.#holes.add(from, to);
    this.#size = size;
  }

  /** Cuts to `size`: chunk files past it are unlinked, holes past it forgotten, the new last chunk is cut. */
  async #shrink(size: number): Promise<void> {
    const { chunkSize, ops } = this.#env;
    const keep = chunkCount(size, chunkSize);
    const ranges = [...this.#holes.present(keep, chunkCount(this.#size, chunkSize))].reverse();
    for (const [lo, hi] of ranges) {
      for (let index = hi - 1; index >= lo; index--) {
        const open = this.#open.get(index);
        if (open !== undefined) {
          this.#open.delete(index);
          await ops.close(open.fd);
        }
        await ops.unlink(this.#path(index));
        this.#private.delete(index);
      }
    }
    this.#holes.cutFrom(keep);
    this.#size = Math.min(this.#size, keep * chunkSize);
    if (size % chunkSize !== 0 && !this.#holes.has(keep - 1)) {
      const index = keep - 1;
      const chunk = await this.#chunk(index, true);
      const length = size - index * chunkSize;
      await ops.ftruncate(chunk.fd, length);
      chunk.sums!.resize(length);
      chunk.dirty = true;
    }
    this.#size = size;
  }

  /**
   * An open chunk file. `writable` makes a shared chunk private first (or creates the file of a
   * new chunk or a hole) and takes its trailer off: its sums are kept in memory until it is sealed.
   */
  async #chunk(index: number, writable: boolean): Promise<DraftChunk> {
    const { ops, chunkSize } = this.#env;
    const open = this.#open.get(index);
    if (open !== undefined && (open.writable || !writable)) {
      this.#open.delete(index);
      this.#open.set(index, open);
      return open;
    }
    if (open !== undefined) {
      this.#open.delete(index);
      await ops.close(open.fd);
    }
    const exists = index < chunkCount(this.#size, chunkSize) && !this.#holes.has(index);
    let chunk: DraftChunk;
    if (!writable) {
      const fd = await ops.open(this.#path(index), 'r');
      try {
        const crcs = await readSeal(ops, fd, this.#path(index));
        chunk = { fd, writable, dirty: false, sums: null, sealed: { fd, crcs: crcs.crcs, dataLen: crcs.dataLen, index } };
      } catch (error) {
        await ops.close(fd).catch(() => undefined);
        throw error;
      }
    } else if (!exists) {
      const fd = await ops.open(this.#path(index), 'w+');
      this.#holes.remove(index);
      this.#private.add(index);
      const length = index < chunkCount(this.#size, chunkSize) ? Math.min(chunkSize, this.#size - index * chunkSize) : 0;
      chunk = { fd, writable, dirty: true, sums: ChunkSums.zeros(length), sealed: null };
    } else {
      if (!this.#private.has(index)) await this.#unshare(index);
      const fd = await ops.open(this.#path(index), 'r+');
      try {
        chunk = { fd, writable, dirty: true, sums: await unsealChunk(ops, fd, this.#path(index)), sealed: null };
      } catch (error) {
        await ops.close(fd).catch(() => undefined);
        throw error;
      }
    }
    this.#open.set(index, chunk);
    await this.#evict();
    return chunk;
  }

  /** Writes a writable chunk's trailer (its checksums); the chunk is then closed or synced. */
  async #seal(chunk: DraftChunk): Promise<void> {
    if (chunk.sums === null) return;
    await sealChunk(this.#env.ops, chunk.fd, chunk.sums);
    chunk.sums = null;
    chunk.dirty = true;
  }

  /** Replaces a link to a committed chunk by a private copy (never writes the shared file). */
  async #unshare(index: number): Promise<void> {
    const path = this.#path(index);
    const copy = `${path}.cow`;
    await this.#env.ops.copyFile(path, copy);
    await this.#env.ops.rename(copy, path);
    this.#private.add(index);
  }

  async #evict(): Promise<void> {
    const { ops, sync } = this.#env;
    while (this.#open.size > OPEN_CHUNKS) {
      const [index, chunk] = this.#open.entries().next().value as [number, DraftChunk];
      this.#open.delete(index);
      try {
        await this.#seal(chunk);
      } catch (error) {
        await ops.close(chunk.fd).catch(() => undefined);
        throw error;
      }
      if (!chunk.dirty || !sync) {
        await ops.close(chunk.fd);
        continue;
      }
      while (this.#syncs.size >= SYNCS_IN_FLIGHT) await Promise.race(this.#syncs);
      const done: Promise<void> = this.#durable(ops.fdatasync(chunk.fd), chunk.fd)
        .then(() => ops.close(chunk.fd))
        .catch(async (error: unknown) => {
          await ops.close(chunk.fd).catch(() => undefined);
          this.#syncError ??= ioError(`syncing blob chunk ${this.#path(index)}`, error);
        })
        .finally(() => this.#syncs.delete(done));
      this.#syncs.add(done);
    }
    if (this.#syncError !== null) throw this.#syncError;
  }

  /** Awaits an fsync; a failure is fail-stop for the whole handlerton. */
  async #durable(fsync: Promise<void>, fd: number): Promise<void> {
    try {
      await fsync;
    } catch (error) {
      const failure = ioError(`fsync failed in blob draft ${this.dir}${fd >= 0 ? '' : ' (directory)'}`, error);
      this.#env.fatal(failure);
      throw failure;
    }
  }
}
