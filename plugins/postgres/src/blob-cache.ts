/**
 * The local blob cache: committed blob revisions read by this client, kept as whole files in one
 * directory that several processes on one machine may share.
 *
 * - A file is named `<database id>-<blob id>-<revision>.blob` (16 hex digits each): revisions are
 *   immutable, so a name never needs invalidating; it goes when evicted or when its revision is
 *   reclaimed.
 * - It is filled only when a revision is read: streamed into `<name>.tmp-<pid>-<random>`, then
 *   renamed, so a visible file is always complete. Its size is checked when it is opened and every
 *   read that comes up short discards it (the caller then reads from the server).
 * - Readers read from their own open file descriptor: on Linux an unlinked file stays readable
 *   through it, so eviction or reclaim by any process never takes bytes from under a reader.
 * - The directory is the shared truth: file names and mtimes (touched on every open) drive a
 *   least-recently-used eviction down to 90% of the budget, which tolerates files vanishing under it.
 *   Each scan also asks the server which of this database's cached revisions still exist and
 *   deletes the others (revisions reclaimed by other clients), and removes stale temporary files.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import type { BlobId, FileSystem, Tid } from '@handlerton/framework';

/** Streams a revision's bytes, in order, into `write`; rejects when the revision cannot be read. */
export type RevisionDownload = (write: (bytes: Uint8Array) => Promise<void>) => Promise<void>;
/** Which of `revisions` (of this cache's database) the server still has, as `nameKey` strings. */
export type PresentCheck = (revisions: readonly CachedRevision[]) => Promise<ReadonlySet<string>>;

/** A revision named by a cache file. */
export interface CachedRevision {
  readonly blobId: BlobId;
  readonly revision: Tid;
}

/** An open cache file of one revision: positional reads from its own descriptor. */
export interface CachedFile {
  /** Reads like RevisionReader.read; null when the file proved damaged (it is then discarded and closed). */
  read(target: Uint8Array, position: number): Promise<number | null>;
  /** Closes the descriptor. Idempotent. */
  close(): Promise<void>;
}

const BLOB_FILE = /^([0-9a-f]{16})-([0-9a-f]{16})-([0-9a-f]{16})\.blob$/;
const TEMP_FILE = /^[0-9a-f]{16}-[0-9a-f]{16}-[0-9a-f]{16}\.blob\.tmp-\d+-[0-9a-f]+$/;
/** A temporary file untouched for this long belongs to a dead fill (an active fill writes continuously). */
const STALE_TEMP_MS = 15 * 60_000;
/** Eviction stops at this fraction of the budget, so that the next fills do not each trigger a scan. */
const LOW_WATER = 0.9;
/** How often an idle cache checks its files against the server (revisions reclaimed by other clients). */
const SWEEP_INTERVAL_MS = 10 * 60_000;
const SWEEP_BATCH = 1000;
const STAT_BATCH = 64;

const hex = (value: bigint): string => value.toString(16).padStart(16, '0');
/** The key `PresentCheck` answers with. */
export const nameKey = (blobId: BlobId, revision: Tid): string => `${blobId}:${revision}`;

/** A bounded, least-recently-used, multi-process blob cache in one directory. */
export class BlobCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly #db: string;
  readonly #fs: FileSystem;
  readonly #present: PresentCheck;
  /** Fills in progress in this process, by file name: concurrent readers of one revision share one. */
  readonly #filling = new Map<string, Promise<boolean>>();
  /** Files this process has open (or is filling), by name: its own eviction skips them. */
  readonly #inUse = new Map<string, number>();
  /** Bytes in the directory at the last scan plus this process's fills since. */
  #estimate = 0;
  #filledSinceScan = 0;
  #scan: Promise<void> | null = null;
  #rescan = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(dir: string, maxBytes: number, databaseId: bigint, fs: FileSystem, present: PresentCheck) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.#db = hex(databaseId);
    this.#fs = fs;
    this.#present = present;
  }

  /** Creates the directory when missing and starts the first scan (in the background). */
  static async open(dir: string, maxBytes: number, databaseId: bigint, fs: FileSystem, present: PresentCheck): Promise<BlobCache> {
    await fs.promises.mkdir(dir, { recursive: true });
    const cache = new BlobCache(dir, maxBytes, databaseId, fs, present);
    cache.scan();
    cache.#timer = setInterval(() => cache.scan(), SWEEP_INTERVAL_MS);
    cache.#timer.unref();
    return cache;
  }

  /** The file name of a revision of this cache's database. */
  fileName(blobId: BlobId, revision: Tid): string {
    return `${this.#db}-${hex(blobId)}-${hex(revision)}.blob`;
  }

  /**
   * The cached file of a revision of `size` bytes, filled through `download` first when missing;
   * null when the revision is not cacheable (empty, larger than 90% of the budget) or the fill failed:
   * the caller reads from the server then. Never throws.
   */
  async acquire(blobId: BlobId, revision: Tid, size: number, download: RevisionDownload): Promise<CachedFile | null> {
    if (this.#closed || size <= 0 || size > this.maxBytes * LOW_WATER) return null;
    const name = this.fileName(blobId, revision);
    // In use from here until the caller holds it open: this process's eviction (which a fill may
    // start) must not delete it between the rename and the open.
    this.#use(name, 1);
    try {
      const existing = await this.#openFile(name, size);
      if (existing !== null || this.#closed) return existing;
      let filling = this.#filling.get(name);
      if (filling === undefined) {
        filling = this.#fill(name, size, download).finally(() => this.#filling.delete(name));
        this.#filling.set(name, filling);
      }
      return (await filling) ? await this.#openFile(name, size) : null;
    } finally {
      this.#use(name, -1);
    }
  }

  /** Deletes the files of revisions this client reclaimed (missing files are fine). */
  async remove(revisions: readonly CachedRevision[]): Promise<void> {
    for (const r of revisions) await this.#unlink(this.fileName(r.blobId, r.revision));
  }

  /** Starts a scan (eviction, sweep of reclaimed revisions, stale temporary files) unless one runs; then one more. */
  scan(): void {
    if (this.#closed) return;
    if (this.#scan !== null) {
      this.#rescan = true;
      return;
    }
    this.#scan = this.#scanNow()
      .catch(() => undefined)
      .finally(() => {
        this.#scan = null;
        if (this.#rescan) {
          this.#rescan = false;
          this.scan();
        }
      });
  }

  /** Waits for the running scan and fills (tests, close). */
  async settled(): Promise<void> {
    while (this.#scan !== null || this.#filling.size > 0) {
      await Promise.all([this.#scan, ...this.#filling.values()]);
    }
  }

  /** Stops the periodic sweep, abandons running fills and waits for them and the scan. Open cached files stay readable. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.settled();
  }

  async #openFile(name: string, size: number): Promise<CachedFile | null> {
    let handle: FileHandle;
    try {
      handle = await this.#fs.promises.open(join(this.dir, name), 'r');
    } catch {
      return null;
    }
    try {
      const stat = await handle.stat();
      if (stat.size !== size) {
        await handle.close();
        await this.#unlink(name);
        return null;
      }
      const now = new Date();
      await handle.utimes(now, now).catch(() => undefined);
    } catch {
      await handle.close().catch(() => undefined);
      return null;
    }
    this.#use(name, 1);
    let open = true;
    const close = async (): Promise<void> => {
      if (!open) return;
      open = false;
      this.#use(name, -1);
      await handle.close().catch(() => undefined);
    };
    return {
      read: async (target, position) => {
        if (!open) return null;
        const total = Math.max(0, Math.min(target.length, size - position));
        try {
          for (let done = 0; done < total; ) {
            const { bytesRead } = await handle.read(target, done, total - done, position + done);
            if (bytesRead === 0) {
              // Shorter than its size: damaged under us. Discard it; the caller reads from the server.
              await close();
              await this.#unlink(name);
              return null;
            }
            done += bytesRead;
          }
        } catch {
          await close();
          return null;
        }
        return total;
      },
      close,
    };
  }

  /** Streams a revision into a temporary file and renames it into place; false on any failure. */
  async #fill(name: string, size: number, download: RevisionDownload): Promise<boolean> {
    const temp = join(this.dir, `${name}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    let handle: FileHandle | undefined;
    let written = 0;
    try {
      handle = await this.#fs.promises.open(temp, 'wx');
      const file = handle;
      await download(async (bytes) => {
        // Closing abandons fills at their next chunk rather than waiting for a whole large revision.
        if (this.#closed) throw new Error(`blob cache fill of ${name}: the cache is closing`);
        if (written + bytes.length > size) throw new Error(`blob cache fill of ${name}: more bytes than its size ${size}`);
        for (let done = 0; done < bytes.length; ) {
          const { bytesWritten } = await file.write(bytes, done, bytes.length - done, written + done);
          done += bytesWritten;
        }
        written += bytes.length;
      });
      await handle.close();
      handle = undefined;
      if (written !== size) throw new Error(`blob cache fill of ${name}: ${written} bytes of ${size}`);
      await this.#fs.promises.rename(temp, join(this.dir, name));
      this.#added(size);
      return true;
    } catch {
      await handle?.close().catch(() => undefined);
      await this.#fs.promises.unlink(temp).catch(() => undefined);
      return false;
    }
  }

  #added(size: number): void {
    this.#estimate += size;
    this.#filledSinceScan += size;
    // Other processes fill the same directory: rescan after every eighth of the budget filled here too.
    if (this.#estimate > this.maxBytes || this.#filledSinceScan > this.maxBytes / 8) this.scan();
  }

  async #scanNow(): Promise<void> {
    this.#filledSinceScan = 0;
    const names = await this.#fs.promises.readdir(this.dir);
    const files: { name: string; size: number; mtimeMs: number; ours: CachedRevision | null }[] = [];
    const now = Date.now();
    for (let i = 0; i < names.length; i += STAT_BATCH) {
      if (this.#closed) return;
      await Promise.all(
        names.slice(i, i + STAT_BATCH).map(async (name) => {
          const match = BLOB_FILE.exec(name);
          if (match === null && !TEMP_FILE.test(name)) return;
          const stat = await this.#fs.promises.stat(join(this.dir, name)).catch(() => null);
          if (stat === null || !stat.isFile()) return;
          if (match === null) {
            if (now - stat.mtimeMs > STALE_TEMP_MS) await this.#unlink(name);
            return;
          }
          const ours = match[1] === this.#db ? { blobId: BigInt(`0x${match[2]!}`), revision: BigInt(`0x${match[3]!}`) } : null;
          files.push({ name, size: stat.size, mtimeMs: stat.mtimeMs, ours });
        }),
      );
    }
    const gone = await this.#reclaimedElsewhere(files.flatMap((f) => (f.ours === null ? [] : [f.ours])));
    let total = 0;
    const kept: typeof files = [];
    for (const file of files) {
      if (file.ours !== null && gone.has(nameKey(file.ours.blobId, file.ours.revision))) await this.#unlink(file.name);
      else {
        kept.push(file);
        total += file.size;
      }
    }
    if (total > this.maxBytes) {
      kept.sort((a, b) => a.mtimeMs - b.mtimeMs);
      for (const file of kept) {
        if (total <= this.maxBytes * LOW_WATER) break;
        if (this.#inUse.has(file.name)) continue;
        await this.#unlink(file.name);
        total -= file.size;
      }
    }
    this.#estimate = total;
  }

  /** Which of our cached revisions the server no longer has (none when the server cannot be asked). */
  async #reclaimedElsewhere(ours: readonly CachedRevision[]): Promise<Set<string>> {
    const gone = new Set<string>();
    try {
      for (let i = 0; i < ours.length; i += SWEEP_BATCH) {
        const batch = ours.slice(i, i + SWEEP_BATCH);
        const present = await this.#present(batch);
        for (const r of batch) if (!present.has(nameKey(r.blobId, r.revision))) gone.add(nameKey(r.blobId, r.revision));
      }
    } catch {
      return new Set();
    }
    return gone;
  }

  /** Removes a file; never throws (a file already gone is the common race; any other failure leaves a file eviction retries). */
  async #unlink(name: string): Promise<void> {
    await this.#fs.promises.unlink(join(this.dir, name)).catch(() => undefined);
  }

  #use(name: string, delta: number): void {
    const n = (this.#inUse.get(name) ?? 0) + delta;
    if (n <= 0) this.#inUse.delete(name);
    else this.#inUse.set(name, n);
  }
}
