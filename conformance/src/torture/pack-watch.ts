/**
 * PackWatch: a file-system wrapper for the torture writer that counts the file operations a pack
 * makes (the calls made from the pack's own async context, told apart with AsyncLocalStorage) and
 * can SIGKILL the process right before the chosen one: a kill placed by operation, not by time, so
 * that it lands in a pack's last phase (publishing the output by rename, removing the inputs,
 * releasing blob revisions) however long the pack took. Only metadata and barrier calls are counted
 * (rename, unlink, fsync, truncate, ...): their number up to the publishing rename does not depend
 * on how much data the pack copies, so the position of the last rename learned from one pack places
 * the kill of a later one. Works for engines whose file I/O goes through the injected
 * `FileSystem` (FileStorage2); with native I/O (SQLite) a pack makes no counted call and completes.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import { basename } from 'node:path';
import type { FileSystem } from '@handlerton/framework';

/** The `node:fs` calls a pack's operation count is made of (sync and callback forms). */
const COUNTED = new Set([
  'rename', 'unlink', 'rm', 'rmdir', 'mkdir', 'link', 'copyFile', 'fsync', 'fdatasync', 'ftruncate', 'truncate',
].flatMap((name) => [name, `${name}Sync`]));

/** The operation a kill came before. */
export interface PackKillPoint {
  /** 1-based number of the counted operation within the pack. */
  readonly op: number;
  /** The fs call, e.g. `renameSync`. */
  readonly call: string;
  /** Base name of the file it names (the first path argument), or '-' for an fd. */
  readonly file: string;
}

/** Counts a pack's file operations and kills the process before the `killAt`-th, when set. */
export class PackWatch {
  readonly fs: FileSystem;
  private readonly context = new AsyncLocalStorage<true>();
  private active = false;
  private killAt: number | undefined;
  private counted = 0;
  private lastRename = 0;
  /** The counted operations of the last (or current) pack, as `call file`. */
  trace: string[] = [];

  /**
   * `onKill` is called (synchronously) right before `kill`, which SIGKILLs this process unless
   * replaced (a test replaces it with a throw).
   */
  constructor(
    private readonly onKill: (point: PackKillPoint) => void,
    private readonly kill: () => void = () => process.kill(process.pid, 'SIGKILL'),
  ) {
    this.fs = new Proxy(fs, {
      get: (target, key, receiver) => {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof key !== 'string' || !COUNTED.has(key) || typeof value !== 'function') return value;
        return (...args: unknown[]): unknown => {
          this.observe(key, args[0]);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  /**
   * Runs `pack` as the watched pack: its counted operations are numbered from 1; kills before number
   * `killAt`. Returns the number of counted operations and the number of the last rename (0: none).
   */
  async run<T>(killAt: number | undefined, pack: () => Promise<T>): Promise<{ result: T; ops: number; lastRename: number }> {
    this.active = true;
    this.killAt = killAt;
    this.counted = 0;
    this.lastRename = 0;
    this.trace = [];
    try {
      const result = await this.context.run(true, pack);
      return { result, ops: this.counted, lastRename: this.lastRename };
    } finally {
      this.active = false;
    }
  }

  private observe(call: string, target: unknown): void {
    if (!this.active || this.context.getStore() !== true) return;
    this.counted++;
    if (call.startsWith('rename')) this.lastRename = this.counted;
    const file = typeof target === 'string' ? basename(target) : '-';
    this.trace.push(`${call} ${file}`);
    if (this.counted !== this.killAt) return;
    this.onKill({ op: this.counted, call, file });
    // A signal a process sends itself is delivered before kill() returns: nothing after this runs.
    this.kill();
  }
}
