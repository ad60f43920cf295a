/** Options of the FileStorage2 blob handlerton, checked once at open. */
import { InvalidConfigError } from '@handlerton/framework';
import { DEFAULT_CHUNK_SIZE } from './layout.js';

/** How often the blob store calls fsync. */
export type BlobSyncMode = 'always' | 'batch' | 'none';

/** What `FileStorage2Blobs.open` accepts. */
export interface FileStorage2BlobsOptions {
  /** The blob directory (created when missing). */
  readonly dir: string;
  /**
   * 'always': fsync at prepare, commit and reference release; 'batch': fsync at prepare only
   * (commits are redone by `recover` after a crash); 'none': never (not crash-safe).
   */
  readonly syncMode: BlobSyncMode;
  /** Bytes per chunk file for a new directory (default 8 MiB); an existing directory keeps its own. */
  readonly chunkSize?: number;
  /** Open for inspection only: no lock, no recovery, nothing created or written (default false). */
  readonly readOnly?: boolean;
}

const SYNC_MODES: readonly string[] = ['always', 'batch', 'none'];
const MIN_CHUNK = 4096;
const MAX_CHUNK = 1024 * 1024 * 1024;

/** Validates options; throws InvalidConfigError naming the bad one. Returns a frozen copy. */
export function checkOptions(options: FileStorage2BlobsOptions): Required<FileStorage2BlobsOptions> {
  if (typeof options !== 'object' || options === null) throw new InvalidConfigError('blob options must be an object');
  if (typeof options.dir !== 'string' || options.dir.length === 0) {
    throw new InvalidConfigError('blobs.dir must be a non-empty path', 'dir');
  }
  if (!SYNC_MODES.includes(options.syncMode)) {
    throw new InvalidConfigError(`blobs.syncMode must be one of ${SYNC_MODES.join(', ')}`, 'syncMode');
  }
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK || chunkSize > MAX_CHUNK) {
    throw new InvalidConfigError(`blobs.chunkSize must be an integer from ${MIN_CHUNK} to ${MAX_CHUNK}`, 'chunkSize');
  }
  const readOnly = options.readOnly ?? false;
  if (typeof readOnly !== 'boolean') throw new InvalidConfigError('blobs.readOnly must be a boolean', 'readOnly');
  return Object.freeze({ dir: options.dir, syncMode: options.syncMode, chunkSize, readOnly });
}
