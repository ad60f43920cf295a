/**
 * A crash-recording file layer: a node:fs-compatible FileSystem that passes every call through to
 * the real directory (the engine runs normally) and logs, in order, every mutation under its root
 * with the inode it touched, every barrier, and the markers the workload driver adds. From the log
 * and the snapshot taken at the start, `crashState` rebuilds what a power cut could leave.
 */
import * as nodeFs from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { InvalidArgumentError, type FileSystem } from '@handlerton/framework';
import type { FsEvent, TreeState } from './events.js';
import { guardedPromises, parseFlags, toBytes, UNSUPPORTED, unsupported, writeArgs } from './fs-call-args.js';

type Callback = (error: NodeJS.ErrnoException | null, ...results: unknown[]) => void;
type Fn = (...args: unknown[]) => unknown;

/** What the layer knows of an open file descriptor. */
interface OpenFile {
  readonly ino: number;
  readonly append: boolean;
  position: number;
}

/** Records every file-system mutation under one root directory; `fs` is what the engine gets. */
export class CrashRecorder {
  /** The recorded directory (absolute). */
  readonly root: string;
  /** Everything logged so far, in order. */
  readonly log: FsEvent[] = [];
  /** The files under the root when recording started; every one of them counts as durable. */
  readonly initial: TreeState;
  /** The FileSystem to hand to `openDatabase(config, { fs })`. */
  readonly fs: FileSystem;
  readonly #real: FileSystem;
  readonly #paths = new Map<string, number>();
  readonly #types = new Map<number, 'file' | 'dir'>();
  readonly #fds = new Map<number, OpenFile>();
  #nextIno = 1;

  /** Starts recording `root` (an existing directory), snapshotting what is already in it. */
  constructor(root: string, real: FileSystem = nodeFs) {
    this.root = resolve(root);
    this.#real = real;
    if (!real.statSync(this.root).isDirectory()) throw new InvalidArgumentError(`root ${root} is not a directory`);
    this.initial = this.#snapshot();
    this.fs = this.#wrap();
  }

  /** Adds a marker (e.g. `ack` with a transaction index) at the current position of the log. */
  mark(label: string, value?: number): void {
    this.log.push(value === undefined ? { kind: 'marker', label } : { kind: 'marker', label, value });
  }

  /** Number of mutations logged so far (barriers and markers excluded). */
  mutations(): number {
    return this.log.filter((e) => e.kind !== 'sync' && e.kind !== 'marker').length;
  }

  #snapshot(): TreeState {
    const dirs = new Map<number, Map<string, number>>();
    const files = new Map<number, Buffer>();
    const walk = (path: string): number => {
      const ino = this.#nextIno++;
      this.#paths.set(path, ino);
      const stat = this.#real.lstatSync(path);
      if (stat.isDirectory()) {
        this.#types.set(ino, 'dir');
        const entries = new Map<string, number>();
        for (const name of this.#real.readdirSync(path).sort()) entries.set(name, walk(join(path, name)));
        dirs.set(ino, entries);
      } else if (stat.isFile()) {
        this.#types.set(ino, 'file');
        files.set(ino, this.#real.readFileSync(path));
      } else {
        throw new InvalidArgumentError(`${path} is neither a file nor a directory: the recording layer cannot snapshot it`);
      }
      return ino;
    };
    const root = walk(this.root);
    return { root, dirs, files };
  }

  #inside(path: unknown): string | undefined {
    if (typeof path !== 'string' && !(path instanceof URL) && !Buffer.isBuffer(path)) return undefined;
    const abs = resolve(path instanceof URL ? path.pathname : path.toString());
    return abs === this.root || abs.startsWith(this.root + sep) ? abs : undefined;
  }

  #parent(abs: string): { dir: number; name: string } {
    const dir = this.#paths.get(dirname(abs));
    if (dir === undefined) throw new Error(`power-loss recorder: the parent of ${abs} is unknown`);
    return { dir, name: basename(abs) };
  }

  #newInode(type: 'file' | 'dir'): number {
    const ino = this.#nextIno++;
    this.#types.set(ino, type);
    return ino;
  }

  /** Paths at or below `abs`, deepest first. */
  #subtree(abs: string): string[] {
    const found = [...this.#paths.keys()].filter((p) => p === abs || p.startsWith(abs + sep));
    return found.sort((a, b) => b.length - a.length);
  }

  #opened(abs: string | undefined, flags: unknown, existed: number | undefined, fd: number): void {
    if (abs === undefined) return;
    const { create, truncate, append } = parseFlags(flags);
    let ino = existed;
    if (ino === undefined) {
      if (!create) return;
      ino = this.#newInode('file');
      this.log.push({ kind: 'add', ...this.#parent(abs), ino, created: 'file' });
      this.#paths.set(abs, ino);
    } else if (truncate && this.#types.get(ino) === 'file') {
      this.log.push({ kind: 'truncate', ino, length: 0 });
    }
    this.#fds.set(fd, { ino, append, position: 0 });
  }

  /** Logs `written` bytes of `bytes` written through `fd` at `position` (null: the fd's position). */
  #wrote(fd: number, bytes: Uint8Array, written: number, position: number): void {
    const file = this.#fds.get(fd);
    if (file === undefined || written <= 0) return;
    let at = position;
    if (file.append) at = this.#real.fstatSync(fd).size - written;
    this.log.push({ kind: 'write', ino: file.ino, position: at, data: Buffer.from(bytes.subarray(0, written)) });
    if (!file.append) file.position = Math.max(file.position, at + written);
  }

  /** The explicit position for a write through `fd` (positionless writes use the tracked position). */
  #position(fd: number, position: unknown): number | null {
    if (typeof position === 'number' && position >= 0) return position;
    if (typeof position === 'bigint') return Number(position);
    const file = this.#fds.get(fd);
    if (file === undefined || file.append) return null;
    return file.position;
  }

  #removed(abs: string | undefined): void {
    if (abs === undefined) return;
    const ino = this.#paths.get(abs);
    if (ino === undefined) return;
    this.log.push({ kind: 'remove', ...this.#parent(abs), ino });
    this.#paths.delete(abs);
  }

  #renamed(from: string | undefined, to: string | undefined): void {
    if (from === undefined && to === undefined) return;
    if (from === undefined || to === undefined) throw new Error('power-loss recorder: rename across the recorded root is not modelled');
    const ino = this.#paths.get(from);
    if (ino === undefined) return;
    const a = this.#parent(from);
    const b = this.#parent(to);
    for (const path of this.#subtree(to)) this.#paths.delete(path);
    this.log.push({ kind: 'rename', isDir: this.#types.get(ino) === 'dir', fromDir: a.dir, fromName: a.name, toDir: b.dir, toName: b.name, ino });
    for (const path of this.#subtree(from)) {
      const moved = this.#paths.get(path);
      this.#paths.delete(path);
      if (moved !== undefined) this.#paths.set(to + path.slice(from.length), moved);
    }
  }

  #made(abs: string | undefined, missing: readonly string[]): void {
    if (abs === undefined) return;
    for (const path of missing) {
      if (this.#inside(path) === undefined || this.#paths.has(path)) continue;
      const ino = this.#newInode('dir');
      this.log.push({ kind: 'add', ...this.#parent(path), ino, created: 'dir' });
      this.#paths.set(path, ino);
    }
  }

  #linked(existing: string | undefined, name: string | undefined): void {
    if (name === undefined) return;
    const ino = existing === undefined ? undefined : this.#paths.get(existing);
    if (ino === undefined) throw new Error('power-loss recorder: a link from outside the recorded root is not modelled');
    this.log.push({ kind: 'add', ...this.#parent(name), ino });
    this.#paths.set(name, ino);
  }

  #copied(to: string | undefined, existed: number | undefined): void {
    if (to === undefined) return;
    let ino = existed;
    if (ino === undefined) {
      ino = this.#newInode('file');
      this.log.push({ kind: 'add', ...this.#parent(to), ino, created: 'file' });
      this.#paths.set(to, ino);
    } else {
      this.log.push({ kind: 'truncate', ino, length: 0 });
    }
    const data = this.#real.readFileSync(to);
    if (data.length > 0) this.log.push({ kind: 'write', ino, position: 0, data });
  }

  #synced(fd: number, call: 'fsync' | 'fdatasync', issuedAt: number): void {
    const file = this.#fds.get(fd);
    if (file !== undefined) this.log.push({ kind: 'sync', ino: file.ino, call, issuedAt });
  }

  /** Directories `mkdir(abs, { recursive })` would create, outermost first. */
  #missingDirs(abs: string | undefined, options: unknown): string[] {
    if (abs === undefined) return [];
    const recursive = typeof options === 'object' && options !== null && (options as { recursive?: boolean }).recursive === true;
    if (!recursive) return this.#paths.has(abs) ? [] : [abs];
    const missing: string[] = [];
    for (let at = abs; !this.#paths.has(at) && this.#inside(at) !== undefined; at = dirname(at)) missing.unshift(at);
    return missing;
  }

  #wrap(): FileSystem {
    const real = this.#real as unknown as Record<string, Fn>;
    const self = this;
    const call = (name: string, args: unknown[]): unknown => real[name]!.apply(this.#real, args);
    /** Calls the callback form of `name`, running `after(results)` on success before the caller's callback. */
    const viaCallback = (name: string, args: unknown[], after: (...results: unknown[]) => void): void => {
      const cb = args[args.length - 1] as Callback;
      const rest = args.slice(0, -1);
      call(name, [
        ...rest,
        (error: NodeJS.ErrnoException | null, ...results: unknown[]) => {
          if (error === null || error === undefined) {
            try {
              after(...results);
            } catch (recordError) {
              cb(recordError as NodeJS.ErrnoException);
              return;
            }
          }
          cb(error ?? null, ...results);
        },
      ]);
    };
    const overrides: Record<string, unknown> = {
      openSync(path: unknown, flags?: unknown, mode?: unknown): number {
        const abs = self.#inside(path);
        const existed = abs === undefined ? undefined : self.#paths.get(abs);
        const fd = call('openSync', [path, flags, mode]) as number;
        self.#opened(abs, flags, existed, fd);
        return fd;
      },
      open(path: unknown, ...rest: unknown[]): void {
        const abs = self.#inside(path);
        const existed = abs === undefined ? undefined : self.#paths.get(abs);
        const flags = typeof rest[0] === 'function' ? 'r' : rest[0];
        viaCallback('open', [path, ...rest], (fd) => self.#opened(abs, flags, existed, fd as number));
      },
      closeSync(fd: number): void {
        self.#fds.delete(fd);
        call('closeSync', [fd]);
      },
      close(fd: number, cb?: Callback): void {
        self.#fds.delete(fd);
        call('close', [fd, cb ?? (() => undefined)]);
      },
      writeSync(fd: number, data: unknown, ...rest: unknown[]): number {
        const { bytes, position } = writeArgs(data, rest);
        const at = self.#position(fd, position);
        const n = call('writeSync', [fd, bytes, 0, bytes.length, at]) as number;
        self.#wrote(fd, bytes, n, at ?? 0);
        return n;
      },
      write(fd: number, data: unknown, ...rest: unknown[]): void {
        const cb = rest.pop() as Callback;
        const { bytes, position } = writeArgs(data, rest);
        const at = self.#position(fd, position);
        call('write', [
          fd, bytes, 0, bytes.length, at,
          (error: NodeJS.ErrnoException | null, n: number) => {
            if (error === null) self.#wrote(fd, bytes, n, at ?? 0);
            cb(error, n, data);
          },
        ]);
      },
      writevSync(fd: number, buffers: readonly Uint8Array[], position?: number | null): number {
        const at = self.#position(fd, position);
        const n = call('writevSync', [fd, buffers, at]) as number;
        self.#wrote(fd, Buffer.concat(buffers), n, at ?? 0);
        return n;
      },
      writev(fd: number, buffers: readonly Uint8Array[], ...rest: unknown[]): void {
        const cb = rest.pop() as Callback;
        const at = self.#position(fd, rest[0]);
        call('writev', [
          fd, buffers, at,
          (error: NodeJS.ErrnoException | null, n: number) => {
            if (error === null) self.#wrote(fd, Buffer.concat(buffers), n, at ?? 0);
            cb(error, n, buffers);
          },
        ]);
      },
      ftruncateSync(fd: number, length = 0): void {
        call('ftruncateSync', [fd, length]);
        const file = self.#fds.get(fd);
        if (file !== undefined) self.log.push({ kind: 'truncate', ino: file.ino, length });
      },
      ftruncate(fd: number, ...rest: unknown[]): void {
        const length = typeof rest[0] === 'number' ? rest[0] : 0;
        viaCallback('ftruncate', [fd, ...rest], () => {
          const file = self.#fds.get(fd);
          if (file !== undefined) self.log.push({ kind: 'truncate', ino: file.ino, length });
        });
      },
      truncateSync(path: unknown, length = 0): void {
        call('truncateSync', [path, length]);
        const abs = self.#inside(path);
        const ino = abs === undefined ? undefined : self.#paths.get(abs);
        if (ino !== undefined) self.log.push({ kind: 'truncate', ino, length });
      },
      truncate(path: unknown, ...rest: unknown[]): void {
        const length = typeof rest[0] === 'number' ? rest[0] : 0;
        const abs = self.#inside(path);
        viaCallback('truncate', [path, ...rest], () => {
          const ino = abs === undefined ? undefined : self.#paths.get(abs);
          if (ino !== undefined) self.log.push({ kind: 'truncate', ino, length });
        });
      },
      fsyncSync(fd: number): void {
        const issuedAt = self.log.length;
        call('fsyncSync', [fd]);
        self.#synced(fd, 'fsync', issuedAt);
      },
      fsync(fd: number, cb: Callback): void {
        const issuedAt = self.log.length;
        viaCallback('fsync', [fd, cb], () => self.#synced(fd, 'fsync', issuedAt));
      },
      fdatasyncSync(fd: number): void {
        const issuedAt = self.log.length;
        call('fdatasyncSync', [fd]);
        self.#synced(fd, 'fdatasync', issuedAt);
      },
      fdatasync(fd: number, cb: Callback): void {
        const issuedAt = self.log.length;
        viaCallback('fdatasync', [fd, cb], () => self.#synced(fd, 'fdatasync', issuedAt));
      },
      renameSync(from: unknown, to: unknown): void {
        call('renameSync', [from, to]);
        self.#renamed(self.#inside(from), self.#inside(to));
      },
      rename(from: unknown, to: unknown, cb: Callback): void {
        viaCallback('rename', [from, to, cb], () => self.#renamed(self.#inside(from), self.#inside(to)));
      },
      unlinkSync(path: unknown): void {
        call('unlinkSync', [path]);
        self.#removed(self.#inside(path));
      },
      unlink(path: unknown, cb: Callback): void {
        viaCallback('unlink', [path, cb], () => self.#removed(self.#inside(path)));
      },
      rmdirSync(path: unknown, options?: unknown): void {
        call('rmdirSync', options === undefined ? [path] : [path, options]);
        self.#removed(self.#inside(path));
      },
      rmdir(path: unknown, ...rest: unknown[]): void {
        viaCallback('rmdir', [path, ...rest], () => self.#removed(self.#inside(path)));
      },
      rmSync(path: unknown, options?: unknown): void {
        const abs = self.#inside(path);
        const doomed = abs === undefined ? [] : self.#subtree(abs);
        call('rmSync', options === undefined ? [path] : [path, options]);
        for (const p of doomed) self.#removed(p);
      },
      rm(path: unknown, ...rest: unknown[]): void {
        const abs = self.#inside(path);
        const doomed = abs === undefined ? [] : self.#subtree(abs);
        viaCallback('rm', [path, ...rest], () => {
          for (const p of doomed) self.#removed(p);
        });
      },
      mkdirSync(path: unknown, options?: unknown): unknown {
        const abs = self.#inside(path);
        const missing = self.#missingDirs(abs, options);
        const result = call('mkdirSync', options === undefined ? [path] : [path, options]);
        self.#made(abs, missing);
        return result;
      },
      mkdir(path: unknown, ...rest: unknown[]): void {
        const abs = self.#inside(path);
        const missing = self.#missingDirs(abs, typeof rest[0] === 'function' ? undefined : rest[0]);
        viaCallback('mkdir', [path, ...rest], () => self.#made(abs, missing));
      },
      linkSync(existing: unknown, name: unknown): void {
        call('linkSync', [existing, name]);
        self.#linked(self.#inside(existing), self.#inside(name));
      },
      link(existing: unknown, name: unknown, cb: Callback): void {
        viaCallback('link', [existing, name, cb], () => self.#linked(self.#inside(existing), self.#inside(name)));
      },
      copyFileSync(from: unknown, to: unknown, mode?: number): void {
        const abs = self.#inside(to);
        const existed = abs === undefined ? undefined : self.#paths.get(abs);
        call('copyFileSync', [from, to, mode ?? 0]);
        self.#copied(abs, existed);
      },
      copyFile(from: unknown, to: unknown, ...rest: unknown[]): void {
        const abs = self.#inside(to);
        const existed = abs === undefined ? undefined : self.#paths.get(abs);
        viaCallback('copyFile', [from, to, ...rest], () => self.#copied(abs, existed));
      },
      writeFileSync(path: unknown, data: unknown, options?: unknown): void {
        if (self.#inside(path) === undefined) {
          call('writeFileSync', [path, data, options]);
          return;
        }
        const flag = typeof options === 'object' && options !== null ? ((options as { flag?: string }).flag ?? 'w') : 'w';
        const bytes = toBytes(data, typeof options === 'string' ? options : (options as { encoding?: string } | undefined)?.encoding);
        const fd = (overrides['openSync'] as Fn)(path, flag) as number;
        try {
          let done = 0;
          while (done < bytes.length) done += (overrides['writeSync'] as Fn)(fd, bytes.subarray(done), 0, bytes.length - done, done) as number;
        } finally {
          (overrides['closeSync'] as Fn)(fd);
        }
      },
      writeFile(path: unknown, data: unknown, ...rest: unknown[]): void {
        const cb = rest.pop() as Callback;
        try {
          (overrides['writeFileSync'] as Fn)(path, data, rest[0]);
        } catch (error) {
          setImmediate(() => cb(error as NodeJS.ErrnoException));
          return;
        }
        setImmediate(() => cb(null));
      },
      promises: guardedPromises(this.#real.promises),
    };
    for (const name of UNSUPPORTED) overrides[name] = () => unsupported(name);
    return Object.freeze({ ...this.#real, ...overrides }) as unknown as FileSystem;
  }
}
