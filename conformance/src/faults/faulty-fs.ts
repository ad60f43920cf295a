/**
 * A FileSystem (node:fs) wrapper for the fault sweep: numbers every file operation an engine makes
 * through the injected file-system access (sync, callback and `promises` forms) and makes operation
 * number N fail with EIO or ENOSPC, or, for a write, write only part of the buffer and return the
 * short count (the next write to the same descriptor then fails with ENOSPC, as a full disk does).
 */
import * as nodeFs from 'node:fs';
import type { FileSystem } from '@handlerton/framework';

/** How the chosen operation fails. */
export type FaultMode = 'EIO' | 'ENOSPC' | 'short';
/** Every fault mode, in sweep order. */
export const FAULT_MODES: readonly FaultMode[] = ['EIO', 'ENOSPC', 'short'];

/** Which operation to fail, and how. */
export interface FaultPlan {
  /** 1-based number of the operation to fail (0 or undefined: count only). */
  readonly failAt?: number;
  readonly mode?: FaultMode;
}

/** What happened to the operation that was made to fail. */
export interface InjectedFault {
  readonly op: number;
  /** The fs function, e.g. `fdatasync`, `writeSync`, `promises.open`. */
  readonly name: string;
  readonly mode: FaultMode;
  /** The operation was a write made short (mode 'short' on a write); false: it raised an error. */
  readonly short: boolean;
  /** The path it operated on (a descriptor's path when the harness saw it opened). */
  readonly target: string;
}

/** A counting, fault-injecting FileSystem and what it saw. */
export interface FaultyFileSystem {
  readonly fs: FileSystem;
  /** Operations numbered so far. */
  count(): number;
  /** Each operation's name and path (or descriptor's path), in order; kept only when `log` was asked for. */
  readonly log: string[];
  /** The fault injected, once operation `failAt` ran. */
  injected(): InjectedFault | undefined;
  /** True when the file whose fsync/fdatasync was made to fail was later removed by the engine (it discarded it). */
  discarded(): boolean;
  /** Stop numbering and injecting (the harness's own verification reads the files). */
  disarm(): void;
}

/** fs functions that are not file operations (helpers, classes, streams built on counted calls). */
const NOT_OPERATIONS = new Set(['Stats', 'Dirent', 'Dir', 'ReadStream', 'WriteStream', 'FileReadStream', 'FileWriteStream', '_toUnixTimestamp', 'createReadStream', 'createWriteStream', 'watch', 'watchFile', 'unwatchFile']);
const WRITES = new Set(['write', 'writeSync', 'writev', 'writevSync', 'promises.write', 'promises.writev']);
const REMOVALS = new Set(['unlink', 'unlinkSync', 'rm', 'rmSync', 'promises.unlink', 'promises.rm']);
const SYNCS = new Set(['fsync', 'fsyncSync', 'fdatasync', 'fdatasyncSync']);

/** True when `name` is a write form (the ones a short write applies to). */
export function isWriteOperation(name: string): boolean {
  return WRITES.has(name.split(' ')[0] ?? '');
}

/** True when `name` is an fsync or fdatasync form. */
export function isSyncOperation(name: string): boolean {
  return SYNCS.has(name);
}

/** A node-style errno error, as the real call raises it. */
export function ioError(code: 'EIO' | 'ENOSPC', syscall: string): NodeJS.ErrnoException {
  const text = code === 'EIO' ? 'i/o error' : 'no space left on device';
  const error: NodeJS.ErrnoException = new Error(`${code}: ${text}, ${syscall} (injected)`);
  error.code = code;
  error.errno = code === 'EIO' ? -5 : -28;
  error.syscall = syscall;
  return error;
}

/** Wraps node:fs; operation `plan.failAt` fails as `plan.mode` says. */
export function faultyFileSystem(plan: FaultPlan = {}, options: { readonly log?: boolean } = {}): FaultyFileSystem {
  let count = 0;
  let armed = true;
  let injected: InjectedFault | undefined;
  /** Descriptors that had a short write: their next write fails with ENOSPC. */
  const fullFds = new Set<number>();
  const log: string[] = [];
  const paths = new Map<number, string>();
  let syncTarget: string | undefined;
  let discarded = false;
  const failAt = plan.failAt ?? 0;
  const mode = plan.mode ?? 'EIO';

  const wrap = (name: string, real: (...args: unknown[]) => unknown, self: unknown): ((...args: unknown[]) => unknown) =>
    function faultyOperation(...args: unknown[]): unknown {
      if (!armed) return real.apply(self, args);
      count++;
      const fd = typeof args[0] === 'number' ? args[0] : undefined;
      const target = fd !== undefined ? (paths.get(fd) ?? `fd ${fd}`) : String(args[0]);
      if (options.log === true) log.push(`${name} ${target}`);
      if (syncTarget !== undefined && REMOVALS.has(name) && String(args[0]) === syncTarget) discarded = true;
      if (WRITES.has(name) && fd !== undefined && fullFds.has(fd)) return fail(name, args, 'ENOSPC');
      if (count !== failAt) return trackOpen(name, args, real, self, paths);
      if (mode === 'short' && WRITES.has(name) && !name.startsWith('promises.')) {
        const shortened = shortenWrite(name, args);
        if (shortened !== undefined) {
          injected = { op: count, name, mode, short: true, target };
          if (fd !== undefined) fullFds.add(fd);
          return real.apply(self, shortened);
        }
      }
      injected = { op: count, name, mode, short: false, target };
      if (SYNCS.has(name) && !target.startsWith('fd ')) syncTarget = target;
      return fail(name, args, mode === 'short' ? 'ENOSPC' : mode);
    };

  const proxyOf = <T extends object>(target: T, prefix: string): T => {
    const cache = new Map<PropertyKey, unknown>();
    return new Proxy(target, {
      get(object, key, receiver) {
        if (cache.has(key)) return cache.get(key);
        const value: unknown = Reflect.get(object, key, receiver);
        let result = value;
        if (typeof key === 'string' && key === 'promises' && prefix === '' && typeof value === 'object' && value !== null) {
          result = proxyOf(value, 'promises.');
        } else if (typeof key === 'string' && typeof value === 'function' && !NOT_OPERATIONS.has(key) && !/^[A-Z]/.test(key)) {
          result = wrap(prefix + key, value as (...args: unknown[]) => unknown, object);
        }
        cache.set(key, result);
        return result;
      },
    });
  };

  return {
    fs: proxyOf(nodeFs, ''),
    count: () => count,
    log,
    injected: () => injected,
    discarded: () => discarded,
    disarm: () => {
      armed = false;
    },
  };
}

/** Calls `real`, remembering which path an open returned a descriptor for (for the operation log). */
function trackOpen(name: string, args: unknown[], real: (...args: unknown[]) => unknown, self: unknown, paths: Map<number, string>): unknown {
  const path = String(args[0]);
  if (name === 'openSync') {
    const fd = real.apply(self, args);
    if (typeof fd === 'number') paths.set(fd, path);
    return fd;
  }
  const callback = args[args.length - 1];
  if (name === 'open' && typeof callback === 'function') {
    const wrapped = (err: Error | null, fd: number): void => {
      if (err === null) paths.set(fd, path);
      (callback as (err: Error | null, fd: number) => void)(err, fd);
    };
    return real.apply(self, [...args.slice(0, -1), wrapped]);
  }
  return real.apply(self, args);
}

/** Raises `code` the way the form of `name` reports errors (throw, callback, rejected promise). */
function fail(name: string, args: unknown[], code: 'EIO' | 'ENOSPC'): unknown {
  const syscall = name.replace(/^promises\./, '').replace(/Sync$/, '');
  const error = ioError(code, syscall);
  if (name === 'existsSync') return false; // existsSync reports every error as "absent"
  if (name.endsWith('Sync')) throw error;
  if (name.startsWith('promises.')) return Promise.reject(error);
  const callback = args[args.length - 1];
  if (typeof callback === 'function') {
    if (name === 'exists') {
      process.nextTick(() => (callback as (present: boolean) => void)(false));
      return undefined;
    }
    process.nextTick(() => (callback as (err: Error) => void)(error));
    return undefined;
  }
  throw error;
}

/** The arguments of a write that writes about half of what was asked; undefined when the form is not recognised. */
function shortenWrite(name: string, args: unknown[]): unknown[] | undefined {
  const base = name.replace(/Sync$/, '');
  if (base === 'write') {
    const [fd, buffer, offset, length, ...rest] = args;
    if (!ArrayBuffer.isView(buffer)) return undefined;
    const start = typeof offset === 'number' ? offset : 0;
    const total = typeof length === 'number' ? length : buffer.byteLength - start;
    if (total < 2) return undefined;
    const half = Math.floor(total / 2);
    if (typeof offset === 'number' && typeof length === 'number') return [fd, buffer, start, half, ...rest];
    return undefined;
  }
  if (base === 'writev') {
    const [fd, buffers, ...rest] = args;
    if (!Array.isArray(buffers)) return undefined;
    const views = buffers as ArrayBufferView[];
    const total = views.reduce((sum, view) => sum + view.byteLength, 0);
    if (total < 2) return undefined;
    let left = Math.floor(total / 2);
    const kept: Uint8Array[] = [];
    for (const view of views) {
      if (left === 0) break;
      const take = Math.min(left, view.byteLength);
      kept.push(new Uint8Array(view.buffer, view.byteOffset, take));
      left -= take;
    }
    return [fd, kept, ...rest];
  }
  return undefined;
}
