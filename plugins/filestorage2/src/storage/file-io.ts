/** File access for the engine through the injected node:fs-compatible FileSystem; errors become StorageIOError. */
import { dirname, resolve } from 'node:path';
import type { FileSystem } from '@handlerton/framework';
import { StorageIOError } from '@handlerton/framework';

/** Wraps an I/O failure in a StorageIOError naming the operation and path. */
export function ioError(op: string, path: string, cause: unknown): StorageIOError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StorageIOError(`${op} failed on ${path}: ${detail}`, { cause });
}

const syncFailures = new WeakSet<Error>();
const directorySyncFailures = new WeakSet<Error>();

/** A failed fsync/fdatasync as a StorageIOError that isSyncFailure recognises. */
function syncError(op: 'fsync' | 'fdatasync', path: string, cause: unknown): StorageIOError {
  const error = ioError(op, path, cause);
  syncFailures.add(error);
  return error;
}

/** True when `e` is a failed fsync/fdatasync: what the page cache holds for that file is no longer known to be durable. */
export function isSyncFailure(e: unknown): boolean {
  return e instanceof Error && syncFailures.has(e);
}

/** True when `e` is a failed fsync of a directory: renames, creates and removals before it may not be durable. */
export function isDirectorySyncFailure(e: unknown): boolean {
  return e instanceof Error && directorySyncFailures.has(e);
}

/**
 * Missing directory levels a storage path may have (`mkdir -p` depth). Creation walks up at most
 * this far and makes one level at a time: node's recursive mkdir loops forever on /proc.
 */
export const MAX_MISSING_DIRS = 32;

/** Buffers per writev call (below every platform's IOV_MAX). */
const IOV_BATCH = 512;

/** Thin synchronous/asynchronous file helpers over one FileSystem. */
export class FileIO {
  constructor(readonly fs: FileSystem) {}

  /** Opens `path` with node flags ('r', 'r+', 'wx', ...). */
  open(path: string, flags: string): number {
    try {
      return this.fs.openSync(path, flags);
    } catch (e) {
      throw ioError('open', path, e);
    }
  }

  /** Closes `fd`, ignoring errors (used on cleanup paths). */
  closeQuietly(fd: number): void {
    try {
      this.fs.closeSync(fd);
    } catch {
      // already closed or dead disk: nothing more to do
    }
  }

  /** Reads up to `length` bytes at `position` into `target` at `offset`; returns the count. */
  readAt(fd: number, target: Buffer, offset: number, length: number, position: number, path: string): number {
    let done = 0;
    try {
      while (done < length) {
        const n = this.fs.readSync(fd, target, offset + done, length - done, position + done);
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      throw ioError('read', path, e);
    }
    return done;
  }

  /** Writes all of `source` at `position`. */
  writeAt(fd: number, source: Uint8Array, position: number, path: string): void {
    let done = 0;
    try {
      while (done < source.length) {
        done += this.fs.writeSync(fd, source, done, source.length - done, position + done);
      }
    } catch (e) {
      throw ioError('write', path, e);
    }
  }

  /**
   * Writes `sources` back to back from `position` on the thread pool (the copy into the page cache
   * leaves the event loop's thread); short writes are completed.
   */
  async writevAtAsync(fd: number, sources: readonly Uint8Array[], position: number, path: string): Promise<void> {
    let pos = position;
    for (let from = 0; from < sources.length; from += IOV_BATCH) {
      let group = sources.slice(from, from + IOV_BATCH);
      while (group.length > 0) {
        const done = await new Promise<number>((resolve, reject) => {
          this.fs.writev(fd, group as Uint8Array[], pos, (err, written) => (err ? reject(ioError('write', path, err)) : resolve(written)));
        });
        pos += done;
        let skip = done;
        const rest: Uint8Array[] = [];
        for (const b of group) {
          if (skip >= b.length) skip -= b.length;
          else {
            rest.push(skip > 0 ? b.subarray(skip) : b);
            skip = 0;
          }
        }
        if (rest.length > 0 && done === 0) throw ioError('write', path, new Error('writev wrote nothing'));
        group = rest;
      }
    }
  }

  /** fdatasync(fd); a failure is fatal for the caller (fail-stop). */
  fdatasync(fd: number, path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.fs.fdatasync(fd, (err) => (err ? reject(syncError('fdatasync', path, err)) : resolve()));
    });
  }

  /** fdatasync(fd) on the calling thread; a failure is fatal for the caller (fail-stop). */
  fdatasyncNow(fd: number, path: string): void {
    try {
      this.fs.fdatasyncSync(fd);
    } catch (e) {
      throw syncError('fdatasync', path, e);
    }
  }

  /** fsync(fd), also flushing metadata such as the file size. */
  fsync(fd: number, path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.fs.fsync(fd, (err) => (err ? reject(syncError('fsync', path, err)) : resolve()));
    });
  }

  /** fsync of a directory, making created, renamed and removed names durable (rule R1). */
  async fsyncDir(dir: string): Promise<void> {
    const fd = this.open(dir, 'r');
    try {
      await this.fsync(fd, dir);
    } catch (e) {
      if (e instanceof Error) directorySyncFailures.add(e);
      throw e;
    } finally {
      this.closeQuietly(fd);
    }
  }

  /** Size of the open file. */
  size(fd: number, path: string): number {
    try {
      return this.fs.fstatSync(fd).size;
    } catch (e) {
      throw ioError('fstat', path, e);
    }
  }

  /** Cuts the open file to `length` bytes. */
  truncate(fd: number, length: number, path: string): void {
    try {
      this.fs.ftruncateSync(fd, length);
    } catch (e) {
      throw ioError('ftruncate', path, e);
    }
  }

  /** Renames `from` to `to` (atomic within one directory). */
  rename(from: string, to: string): void {
    try {
      this.fs.renameSync(from, to);
    } catch (e) {
      throw ioError('rename', from, e);
    }
  }

  /** Creates directory `path` (and its missing parents, bounded: see mkdirs) when missing. */
  mkdir(path: string): void {
    this.mkdirs(path);
  }

  /**
   * Creates directory `path` and its missing parents one level at a time (at most
   * MAX_MISSING_DIRS); returns the directories created, outermost first. StorageIOError naming the
   * path when an ancestor is not a directory or a level cannot be made.
   */
  mkdirs(path: string): string[] {
    const missing: string[] = [];
    for (let at = resolve(path); ; at = dirname(at)) {
      let isDir: boolean | null = null;
      try {
        isDir = this.fs.statSync(at).isDirectory();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('stat', at, e);
      }
      if (isDir === false) throw new StorageIOError(`cannot create ${path}: ${at} exists and is not a directory`);
      if (isDir === true) break;
      missing.push(at);
      if (missing.length > MAX_MISSING_DIRS) throw new StorageIOError(`cannot create ${path}: more than ${MAX_MISSING_DIRS} directory levels are missing`);
      if (dirname(at) === at) break;
    }
    missing.reverse();
    for (const dir of missing) {
      try {
        this.fs.mkdirSync(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST' && this.fs.statSync(dir).isDirectory()) continue;
        throw ioError('mkdir', dir, e);
      }
    }
    return missing;
  }

  /** Removes `path`; a missing file is not an error. */
  unlink(path: string): void {
    try {
      this.fs.unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw ioError('unlink', path, e);
    }
  }

  /** Names in `dir`. */
  list(dir: string): string[] {
    try {
      return this.fs.readdirSync(dir);
    } catch (e) {
      throw ioError('readdir', dir, e);
    }
  }
}
