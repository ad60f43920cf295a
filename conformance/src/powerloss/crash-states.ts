/**
 * Post-crash states under a strict POSIX model: from the snapshot at the start of recording and a
 * prefix of the log (the crash point), which files and bytes a power cut could leave behind.
 *
 * - File data and size are durable only once an fsync/fdatasync of that inode, issued after the
 *   write, has completed; a directory entry (create, link, unlink, rename, mkdir, rmdir) only once
 *   an fsync of its directory has. A rename across two directories is two halves, each durable
 *   with its own directory, except a directory's, which is one move durable with its destination.
 *   Nothing a completed barrier covers is ever dropped.
 * - `drop`: everything not durable is lost.
 * - `torn`: a random prefix of the non-durable mutations (in log order) survives, and the next
 *   one, when it is a write, survives up to a random 512-byte sector boundary (possibly none of it).
 * - `reorder`: non-durable writes are cut into 4 KiB pages, each kept or lost on its own; the
 *   non-durable metadata changes (entries, truncation) survive as a random prefix in log order.
 */
import { createHash } from 'node:crypto';
import { mkdir, link, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Prng } from '../crash/prng.js';
import { cloneTree, type FsEvent, type TreeState } from './events.js';

/** The three ways of choosing what survives among the non-durable mutations. */
export const CRASH_MODES = ['drop', 'torn', 'reorder'] as const;
/** One of CRASH_MODES. */
export type CrashMode = (typeof CRASH_MODES)[number];

/** Sector size at which `torn` cuts a write. */
export const SECTOR_SIZE = 512;
/** Page size at which `reorder` splits writes. */
export const PAGE_SIZE = 4096;

/** One change to the tree, owned by the inode whose barrier makes it durable. */
type Action =
  | { readonly type: 'add'; readonly seq: number; readonly owner: number; readonly dir: number; readonly name: string; readonly ino: number; readonly created?: 'file' | 'dir' }
  | { readonly type: 'remove'; readonly seq: number; readonly owner: number; readonly dir: number; readonly name: string; readonly ino: number }
  | { readonly type: 'rename'; readonly seq: number; readonly owner: number; readonly dir: number; readonly from: string; readonly to: string; readonly ino: number }
  | { readonly type: 'move'; readonly seq: number; readonly owner: number; readonly fromDir: number; readonly from: string; readonly toDir: number; readonly to: string; readonly ino: number }
  | { readonly type: 'write'; readonly seq: number; readonly owner: number; readonly position: number; readonly data: Buffer }
  | { readonly type: 'truncate'; readonly seq: number; readonly owner: number; readonly length: number };

/** Log lengths at which power can be cut: before every mutation or barrier, and at the end (markers stick to what precedes them). */
export function crashPoints(log: readonly FsEvent[]): number[] {
  const points: number[] = [];
  for (let i = 0; i <= log.length; i++) if (i === log.length || log[i]!.kind !== 'marker') points.push(i);
  return points;
}

/** Markers with `label` inside the first `end` events of `log`, by value. */
export function markersBefore(log: readonly FsEvent[], end: number, label: string): number[] {
  const values: number[] = [];
  for (let i = 0; i < end; i++) {
    const e = log[i]!;
    if (e.kind === 'marker' && e.label === label && e.value !== undefined) values.push(e.value);
  }
  return values;
}

function actionsOf(log: readonly FsEvent[], end: number): Action[] {
  const actions: Action[] = [];
  for (let seq = 0; seq < end; seq++) {
    const e = log[seq]!;
    switch (e.kind) {
      case 'add':
        actions.push({ type: 'add', seq, owner: e.dir, dir: e.dir, name: e.name, ino: e.ino, ...(e.created ? { created: e.created } : {}) });
        break;
      case 'remove':
        actions.push({ type: 'remove', seq, owner: e.dir, dir: e.dir, name: e.name, ino: e.ino });
        break;
      case 'rename':
        if (e.fromDir === e.toDir) actions.push({ type: 'rename', seq, owner: e.fromDir, dir: e.fromDir, from: e.fromName, to: e.toName, ino: e.ino });
        else if (e.isDir) actions.push({ type: 'move', seq, owner: e.toDir, fromDir: e.fromDir, from: e.fromName, toDir: e.toDir, to: e.toName, ino: e.ino });
        else {
          actions.push({ type: 'remove', seq, owner: e.fromDir, dir: e.fromDir, name: e.fromName, ino: e.ino });
          actions.push({ type: 'add', seq, owner: e.toDir, dir: e.toDir, name: e.toName, ino: e.ino });
        }
        break;
      case 'write':
        actions.push({ type: 'write', seq, owner: e.ino, position: e.position, data: e.data });
        break;
      case 'truncate':
        actions.push({ type: 'truncate', seq, owner: e.ino, length: e.length });
        break;
      default:
        break;
    }
  }
  return actions;
}

/** For each inode, the log index below which a completed barrier made its changes durable. */
function syncedBelow(log: readonly FsEvent[], end: number): Map<number, number> {
  const synced = new Map<number, number>();
  for (let i = 0; i < end; i++) {
    const e = log[i]!;
    if (e.kind === 'sync' && e.issuedAt > (synced.get(e.ino) ?? 0)) synced.set(e.ino, e.issuedAt);
  }
  return synced;
}

/** Counts of what a crash state kept. */
export interface CrashStateInfo {
  readonly durable: number;
  readonly pending: number;
  readonly keptPending: number;
}

/**
 * The tree a power cut after the first `end` log events leaves in `mode`; `seed` picks what
 * survives in `torn` and `reorder` (the same seed gives the same state).
 */
export function crashState(initial: TreeState, log: readonly FsEvent[], end: number, mode: CrashMode, seed = 0): { tree: TreeState; info: CrashStateInfo } {
  const actions = actionsOf(log, end);
  const synced = syncedBelow(log, end);
  const durable: Action[] = [];
  const pending: Action[] = [];
  for (const a of actions) (a.seq < (synced.get(a.owner) ?? 0) ? durable : pending).push(a);
  const rng = new Prng(seed);
  let kept: Action[] = [];
  if (mode === 'torn') {
    const count = rng.int(0, pending.length);
    kept = pending.slice(0, count);
    const next = pending[count];
    if (next?.type === 'write') {
      const torn = tearAtSector(next, rng);
      if (torn !== undefined) kept.push(torn);
    }
  } else if (mode === 'reorder') {
    const meta = pending.filter((a) => a.type !== 'write');
    kept = meta.slice(0, rng.int(0, meta.length));
    for (const a of pending) if (a.type === 'write') for (const page of pagesOf(a)) if (rng.next() < 0.5) kept.push(page);
  }
  const applied = [...durable, ...kept].sort((a, b) => a.seq - b.seq);
  const tree = cloneTree(initial);
  for (const a of applied) apply(tree, a);
  return { tree, info: { durable: durable.length, pending: pending.length, keptPending: kept.length } };
}

function tearAtSector(write: Extract<Action, { type: 'write' }>, rng: Prng): Action | undefined {
  const first = Math.floor(write.position / SECTOR_SIZE) + 1;
  const last = Math.ceil((write.position + write.data.length) / SECTOR_SIZE) - 1;
  if (last < first) return undefined;
  const sector = rng.int(first - 1, last);
  if (sector < first) return undefined;
  const cut = sector * SECTOR_SIZE - write.position;
  return { ...write, data: write.data.subarray(0, cut) };
}

function pagesOf(write: Extract<Action, { type: 'write' }>): Action[] {
  const pages: Action[] = [];
  let at = write.position;
  const end = write.position + write.data.length;
  while (at < end) {
    const next = Math.min(end, (Math.floor(at / PAGE_SIZE) + 1) * PAGE_SIZE);
    pages.push({ ...write, position: at, data: write.data.subarray(at - write.position, next - write.position) });
    at = next;
  }
  return pages;
}

function apply(tree: TreeState, a: Action): void {
  switch (a.type) {
    case 'add': {
      if (a.created === 'dir' && !tree.dirs.has(a.ino)) tree.dirs.set(a.ino, new Map());
      if (a.created === 'file' && !tree.files.has(a.ino)) tree.files.set(a.ino, Buffer.alloc(0));
      dirEntries(tree, a.dir).set(a.name, a.ino);
      break;
    }
    case 'remove': {
      const entries = dirEntries(tree, a.dir);
      if (entries.get(a.name) === a.ino) entries.delete(a.name);
      break;
    }
    case 'rename': {
      const entries = dirEntries(tree, a.dir);
      if (entries.get(a.from) !== a.ino) break;
      entries.delete(a.from);
      entries.set(a.to, a.ino);
      break;
    }
    case 'move': {
      const from = dirEntries(tree, a.fromDir);
      if (from.get(a.from) === a.ino) from.delete(a.from);
      dirEntries(tree, a.toDir).set(a.to, a.ino);
      break;
    }
    case 'write': {
      const old = tree.files.get(a.owner) ?? Buffer.alloc(0);
      const size = Math.max(old.length, a.position + a.data.length);
      const next = size === old.length ? old : Buffer.concat([old, Buffer.alloc(size - old.length)]);
      a.data.copy(next, a.position);
      tree.files.set(a.owner, next);
      break;
    }
    case 'truncate': {
      const old = tree.files.get(a.owner) ?? Buffer.alloc(0);
      tree.files.set(a.owner, a.length <= old.length ? Buffer.from(old.subarray(0, a.length)) : Buffer.concat([old, Buffer.alloc(a.length - old.length)]));
      break;
    }
  }
}

function dirEntries(tree: TreeState, dir: number): Map<string, number> {
  let entries = tree.dirs.get(dir);
  if (entries === undefined) {
    entries = new Map();
    tree.dirs.set(dir, entries);
  }
  return entries;
}

/** Visits every reachable name under the root: (relative path, inode, 'dir' | 'file'), directories first. */
function* walk(tree: TreeState): Generator<{ path: string; ino: number; type: 'dir' | 'file' }> {
  const stack: Array<{ path: string; ino: number }> = [{ path: '', ino: tree.root }];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const { path, ino } = stack.pop()!;
    if (seen.has(ino)) continue;
    seen.add(ino);
    const entries = tree.dirs.get(ino);
    if (entries === undefined) continue;
    for (const name of [...entries.keys()].sort()) {
      const child = entries.get(name)!;
      const childPath = path === '' ? name : `${path}/${name}`;
      if (tree.dirs.has(child)) {
        yield { path: childPath, ino: child, type: 'dir' };
        stack.push({ path: childPath, ino: child });
      } else {
        yield { path: childPath, ino: child, type: 'file' };
      }
    }
  }
}

/** SHA-256 over every reachable name, its inode sharing and its contents: equal trees give equal digests. */
export function treeDigest(tree: TreeState): string {
  const hash = createHash('sha256');
  const firstPath = new Map<number, string>();
  for (const { path, ino, type } of walk(tree)) {
    hash.update(`${type} ${path}\0`);
    if (type === 'file') {
      const other = firstPath.get(ino);
      if (other !== undefined) hash.update(`link ${other}\0`);
      else {
        firstPath.set(ino, path);
        hash.update(tree.files.get(ino) ?? Buffer.alloc(0));
      }
    }
  }
  return hash.digest('hex');
}

/** Writes `tree` into the existing empty directory `dest` (hard links stay hard links). */
export async function writeTree(tree: TreeState, dest: string): Promise<void> {
  const firstPath = new Map<number, string>();
  for (const { path, ino, type } of walk(tree)) {
    const target = join(dest, path);
    if (type === 'dir') await mkdir(target);
    else {
      const other = firstPath.get(ino);
      if (other !== undefined) await link(other, target);
      else {
        firstPath.set(ino, target);
        await writeFile(target, tree.files.get(ino) ?? Buffer.alloc(0));
      }
    }
  }
}
