/**
 * Promise wrappers over the callback API of `context.fs`, so that a test can inject faults by
 * replacing any single node:fs function. Every error leaves here as a typed StorageIOError (or
 * stays a node error for the few callers that branch on `code`, through `raw`).
 */
import { dirname } from 'node:path';
import type { FileSystem } from '@handlerton/framework';
import { StorageIOError } from '@handlerton/framework';

/** Missing directory levels mkdirp creates at most (a bound: it never loops on odd file systems). */
const MAX_MISSING_DIRS = 32;

/** A node:fs error with its errno code. */
export type ErrnoError = Error & { code?: string };

/** True when `error` is a node:fs error with one of `codes`. */
export function hasCode(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as ErrnoError).code ?? '');
}

/** Wraps a node:fs failure into a StorageIOError that says what was being done. */
export function ioError(what: string, error: unknown): StorageIOError {
  if (error instanceof StorageIOError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new StorageIOError(`${what}: ${detail}`, { cause: error });
}

/** The file operations the blob store uses, as promises (raw node errors). */
export class FsOps {
  readonly #fs: FileSystem;

  constructor(fs: FileSystem) {
    this.#fs = fs;
  }

  /** Opens `path` with node flags ('r', 'r+', 'w+', 'wx', 'a'); returns the fd. */
  open(path: string, flags: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#fs.open(path, flags, 0o644, (err, fd) => (err ? reject(err) : resolve(fd)));
    });
  }

  /** Closes an fd. */
  close(fd: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#fs.close(fd, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** One positioned read; returns the byte count. */
  read(fd: number, target: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#fs.read(fd, target, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
    });
  }

  /** Reads until `length` bytes or end of file; returns the byte count. */
  async readFully(fd: number, target: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const n = await this.read(fd, target, offset + done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  /** Writes all of `source[offset, offset+length)` at `position`. */
  async writeFully(fd: number, source: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const n = await new Promise<number>((resolve, reject) => {
        this.#fs.write(fd, source, offset + done, length - done, position + done, (err, written) =>
          err ? reject(err) : resolve(written),
        );
      });
      done += n;
    }
  }

  /** Sets the file's length (sparse when growing). */
  ftruncate(fd: number, length: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#fs.ftruncate(fd, length, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** fdatasync(2). */
  fdatasync(fd: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#fs.fdatasync(fd, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** fsync(2). */
  fsync(fd: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#fs.fsync(fd, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** The size of an open file. */
  fsize(fd: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st.size)));
    });
  }

  /**
   * Makes a directory and its missing parents, one level at a time and at most MAX_MISSING_DIRS
   * of them (node's recursive mkdir loops forever on /proc); returns the outermost directory
   * created, if any. An ancestor that is not a directory fails with ENOTDIR.
   */
  async mkdirp(path: string): Promise<string | undefined> {
    const missing: string[] = [];
    for (let at = path; ; at = dirname(at)) {
      const isDir = await this.#isDirectory(at);
      if (isDir === false) throw Object.assign(new Error(`ENOTDIR: ${at} is not a directory`), { code: 'ENOTDIR' });
      if (isDir === true) break;
      missing.push(at);
      if (missing.length > MAX_MISSING_DIRS) {
        throw Object.assign(new Error(`more than ${MAX_MISSING_DIRS} directory levels missing above ${path}`), { code: 'ENOENT' });
      }
      if (dirname(at) === at) break;
    }
    for (const dir of missing.reverse()) {
      await this.mkdir(dir).catch(async (error: unknown) => {
        if (!hasCode(error, 'EEXIST') || (await this.#isDirectory(dir)) !== true) throw error;
      });
    }
    return missing[0];
  }

  /** Makes `path` like mkdirp and, with `sync`, fsyncs the parent of every directory it created. */
  async mkdirDurable(path: string, sync: boolean): Promise<void> {
    const created = await this.mkdirp(path);
    if (created === undefined || !sync) return;
    for (let dir = path; dir.length >= created.length; dir = dirname(dir)) await this.fsyncDir(dirname(dir));
  }

  /** True for a directory, false for anything else, null when nothing is there. */
  #isDirectory(path: string): Promise<boolean | null> {
    return new Promise((resolve, reject) => {
      this.#fs.stat(path, (err, st) => {
        if (err === null) resolve(st.isDirectory());
        else if (hasCode(err, 'ENOENT')) resolve(null);
        else reject(err);
      });
    });
  }

  /** Makes one directory (fails with EEXIST when it exists). */
  mkdir(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#fs.mkdir(path, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Lists a directory's entry names. */
  readdir(path: string): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.#fs.readdir(path, (err, names) => (err ? reject(err) : resolve(names)));
    });
  }

  /** rename(2). */
  rename(from: string, to: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#fs.rename(from, to, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** link(2): a second name for the same file. */
  link(existing: string, name: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#fs.link(existing, name, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Copies a file (the kernel moves the bytes; reflink where the file system can). */
  copyFile(from: string, to: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#fs.copyFile(from, to, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** unlink(2). */
  unlink(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#fs.unlink(path, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** rmdir(2) of an empty directory. */
  rmdir(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#fs.rmdir(path, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Removes a file or directory tree; missing is fine. */
  rmTree(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#fs.rm(path, { recursive: true, force: true }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** True when `path` exists, false when it does not (ENOENT); any other stat failure (EIO, ...) rejects. */
  exists(path: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#fs.stat(path, (err) => {
        if (err === null) resolve(true);
        else if (hasCode(err, 'ENOENT')) resolve(false);
        else reject(err);
      });
    });
  }

  /** Reads a small file whole (metadata only, never blob data). */
  readSmallFile(path: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#fs.readFile(path, (err, data) => (err ? reject(err) : resolve(data)));
    });
  }

  /** fsync of a directory, making the names in it durable. */
  async fsyncDir(path: string): Promise<void> {
    const fd = await this.open(path, 'r');
    try {
      await this.fsync(fd);
    } finally {
      await this.close(fd).catch(() => undefined);
    }
  }
}
