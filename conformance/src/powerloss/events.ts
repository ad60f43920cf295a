/**
 * The log a recording file layer keeps: every mutation of the files under its root, with the
 * inode it touched, every barrier (fsync / fdatasync of a file or a directory) and the markers a
 * workload driver adds ("transaction 3 acknowledged").
 */

/** A directory entry made: a new inode (`created`) or a second name for an existing one (link). */
export interface AddEntryEvent {
  readonly kind: 'add';
  readonly dir: number;
  readonly name: string;
  readonly ino: number;
  /** Set when the inode is new (create, mkdir, copyFile to a new name). */
  readonly created?: 'file' | 'dir';
}

/** A directory entry removed (unlink, rmdir, one step of a recursive rm). */
export interface RemoveEntryEvent {
  readonly kind: 'remove';
  readonly dir: number;
  readonly name: string;
  readonly ino: number;
}

/**
 * rename(2): atomic within one directory. Across two directories a file's rename is two halves,
 * each durable with its own directory; a directory's is one move, durable with the destination
 * (a directory cannot have two names).
 */
export interface RenameEvent {
  readonly kind: 'rename';
  readonly isDir: boolean;
  readonly fromDir: number;
  readonly fromName: string;
  readonly toDir: number;
  readonly toName: string;
  readonly ino: number;
}

/** Bytes written at a position of an inode. */
export interface WriteEvent {
  readonly kind: 'write';
  readonly ino: number;
  readonly position: number;
  readonly data: Buffer;
}

/** The inode's size set (ftruncate, open with O_TRUNC). */
export interface TruncateEvent {
  readonly kind: 'truncate';
  readonly ino: number;
  readonly length: number;
}

/**
 * A barrier that completed: fsync/fdatasync of a file (its data and size) or fsync of a directory
 * (its entries). It covers only what was logged before it was issued (`issuedAt`, a log index).
 */
export interface SyncEvent {
  readonly kind: 'sync';
  readonly ino: number;
  readonly call: 'fsync' | 'fdatasync';
  readonly issuedAt: number;
}

/** A note from the workload driver, e.g. `ack` with the transaction's index. */
export interface MarkerEvent {
  readonly kind: 'marker';
  readonly label: string;
  readonly value?: number;
}

/** Anything the recording layer logs. */
export type FsEvent = AddEntryEvent | RemoveEntryEvent | RenameEvent | WriteEvent | TruncateEvent | SyncEvent | MarkerEvent;

/** The files under the root when recording started (all durable): directories and file contents by inode. */
export interface TreeState {
  /** Inode of the root directory. */
  readonly root: number;
  /** Entries of every directory inode: name -> inode. */
  readonly dirs: Map<number, Map<string, number>>;
  /** Contents of every regular-file inode. */
  readonly files: Map<number, Buffer>;
}

/** A deep copy of `tree` (entries and contents). */
export function cloneTree(tree: TreeState): TreeState {
  const dirs = new Map<number, Map<string, number>>();
  for (const [ino, entries] of tree.dirs) dirs.set(ino, new Map(entries));
  const files = new Map<number, Buffer>();
  for (const [ino, data] of tree.files) files.set(ino, Buffer.from(data));
  return { root: tree.root, dirs, files };
}
