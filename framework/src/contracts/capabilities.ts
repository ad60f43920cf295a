/**
 * Capability manifests. Every flag is an explicit boolean, fixed at construction and identical
 * before open, after open, after close and after a reopen (the conformance manifest self-test
 * checks this). A manifest is frozen plain data holding exactly the flags of its interface (and,
 * for blobs, the mode), so it survives a JSON round trip; an engine opened with default options
 * declares exactly the static manifest of its plugin. A capability that is off means the engine
 * raises NotSupportedError for the calls that need it; it never silently does something else.
 */
import { InvalidArgumentError } from './errors.js';

/** What a Storage engine claims. Each flag answers one question. */
export interface StorageCapabilities {
  /** Does `loadBefore` serve any revision not yet packed away (MVCC snapshots)? */
  readonly mvcc: boolean;
  /** Does `history` list revisions newest first? */
  readonly history: boolean;
  /** Does `iterator` walk committed transactions in tid order? */
  readonly iterator: boolean;
  /** Can `tpcBegin` take an explicit tid and `restore` write revisions verbatim (copy between engines)? */
  readonly restore: boolean;
  /** Does `pack` drop old revisions and deleted objects? */
  readonly pack: boolean;
  /** Does `deleteObject` exist (external garbage collection)? */
  readonly externalGC: boolean;
  /** Does the engine undo transactions? (None of ours do.) */
  readonly undo: boolean;
  /**
   * Does everything committed survive close and reopen (records with their serials and refs,
   * metadata, deletes, what a pack removed, `lastTransaction()`, the oid counter), and nothing of a
   * transaction unfinished at close?
   */
  readonly durable: boolean;
  /** Does every acknowledged commit survive a killed process? */
  readonly crashSafe: boolean;
  /** Is the storage opened read-only? */
  readonly readOnly: boolean;
  /**
   * May several client processes (on one or several machines) open the same database at once, each
   * seeing the others' commits (records, and blobs through a blob handlerton they share; tids
   * increasing across all, conflicts detected across clients)? A client that dies mid-commit leaves
   * no lock behind, and its transaction is all or nothing.
   */
  readonly multiClient: boolean;
}

/** The storage capability names, in a fixed order (for reports). */
export const STORAGE_CAPABILITY_NAMES = [
  'mvcc',
  'history',
  'iterator',
  'restore',
  'pack',
  'externalGC',
  'undo',
  'durable',
  'crashSafe',
  'readOnly',
  'multiClient',
] as const satisfies readonly (keyof StorageCapabilities)[];

/** The three transactional modes of WL#3583; a blob handlerton has exactly one. */
export type BlobTransactionMode =
  /**
   * Blob data has its own transaction context: `flush()` commits a new revision, which stays when
   * the enclosing transaction aborts; writes not flushed when the handle closes are discarded.
   */
  | 'transactional'
  /** No isolation: writes become visible to every reader at `flush()` and at close, whatever the enclosing transaction does. */
  | 'nontransactional'
  /**
   * Blob data commits and aborts with the enclosing storage transaction: flushed or not, others see
   * it only once that commits, and unflushed writes commit with it; commit closes handles.
   */
  | 'dataTransactional';

/** What a BlobHandlerton claims. */
export interface BlobCapabilities {
  /** The single transactional mode this handlerton runs in. */
  readonly mode: BlobTransactionMode;
  /** Can handles seek to arbitrary offsets? */
  readonly seek: boolean;
  /** Can handles truncate? */
  readonly truncate: boolean;
  /** Can blobs be opened in append mode ('a')? */
  readonly append: boolean;
  /** Are revisions reference counted (records + open handles) and reclaimed at zero? */
  readonly refcount: boolean;
  /** Do 'a' and 'r+' change only what is written, without copying the whole blob? */
  readonly partialUpdate: boolean;
  /** Does committed blob data survive close and reopen? */
  readonly durable: boolean;
}

/** The blob capability flag names (booleans only), in a fixed order. */
export const BLOB_CAPABILITY_NAMES = [
  'seek',
  'truncate',
  'append',
  'refcount',
  'partialUpdate',
  'durable',
] as const satisfies readonly (keyof BlobCapabilities)[];

const BLOB_MODES: readonly BlobTransactionMode[] = ['transactional', 'nontransactional', 'dataTransactional'];

/** Builds a frozen storage manifest; missing flags are false, unknown keys are rejected. */
export function storageCapabilities(flags: Partial<StorageCapabilities>): StorageCapabilities {
  const out: Record<string, boolean> = {};
  for (const name of STORAGE_CAPABILITY_NAMES) out[name] = flags[name] === true;
  for (const key of Object.keys(flags)) {
    if (!(STORAGE_CAPABILITY_NAMES as readonly string[]).includes(key)) {
      throw new InvalidArgumentError(`unknown storage capability "${key}"`);
    }
  }
  return Object.freeze(out) as unknown as StorageCapabilities;
}

/** Builds a frozen blob manifest; missing flags are false, the mode must be one of the three. */
export function blobCapabilities(
  flags: Partial<Omit<BlobCapabilities, 'mode'>> & { mode: BlobTransactionMode },
): BlobCapabilities {
  if (!BLOB_MODES.includes(flags.mode)) {
    throw new InvalidArgumentError(`blob mode must be one of ${BLOB_MODES.join(', ')}, got "${String(flags.mode)}"`);
  }
  const out: Record<string, boolean | BlobTransactionMode> = { mode: flags.mode };
  for (const name of BLOB_CAPABILITY_NAMES) out[name] = flags[name] === true;
  for (const key of Object.keys(flags)) {
    if (key !== 'mode' && !(BLOB_CAPABILITY_NAMES as readonly string[]).includes(key)) {
      throw new InvalidArgumentError(`unknown blob capability "${key}"`);
    }
  }
  return Object.freeze(out) as unknown as BlobCapabilities;
}
