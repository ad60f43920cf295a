/** FileStorage2 options: parsing and validation of the engine's config. */
import { InvalidConfigError, type EngineRequest } from '@handlerton/framework';
import { DEFAULT_SEGMENT_SIZE } from './storage/constants.js';

/**
 * When a commit is acknowledged:
 * - `always`: after fdatasync of its bytes (group commit shares one fdatasync); survives power loss.
 * - `batch`: after write(2); an fdatasync follows within `BATCH_SYNC_DELAY_MS`. A killed process loses
 *   nothing; an OS crash or power loss can lose the commits of that last window.
 * - `none`: after write(2); fdatasync only at seal and close. A killed process loses nothing; an OS
 *   crash or power loss can lose everything since the last seal or clean close.
 */
export type SyncMode = 'always' | 'batch' | 'none';

/** Delay of the background fdatasync in `batch` mode. */
export const BATCH_SYNC_DELAY_MS = 20;

/** Validated FileStorage2 options. */
export interface FileStorage2Options {
  /** The storage directory (created when missing, unless read-only). */
  readonly directory: string;
  readonly syncMode: SyncMode;
  /** Size in bytes after which the active segment is sealed. */
  readonly segmentSize: number;
  readonly readOnly: boolean;
  /** Move the segments a pack replaced into `archive/` instead of deleting them. */
  readonly archivePacked: boolean;
  /**
   * `always` mode: a commit with no other committer around runs its fdatasync on the event loop's
   * thread, which saves a thread-pool round trip (about 0.1 ms here) but holds the loop for the
   * fdatasync. Off: every fdatasync runs on the thread pool.
   */
  readonly inlineSync: boolean;
  /** The config path that named this engine ("storage" or "blobs"), for errors found at open. */
  readonly configPath?: string;
}

const KNOWN = ['syncMode', 'segmentSize', 'readOnly', 'archivePacked', 'inlineSync'];
const SYNC_MODES: readonly SyncMode[] = ['always', 'batch', 'none'];

/** Validates raw options; InvalidConfigError naming the bad option. */
export function parseFileStorage2Options(
  location: string | undefined,
  options: Readonly<Record<string, unknown>>,
  configPath = 'storage',
): FileStorage2Options {
  if (typeof location !== 'string' || location.trim() === '') {
    throw new InvalidConfigError(`${configPath}.location: filestorage2 needs a location (the storage directory)`, `${configPath}.location`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) {
      throw new InvalidConfigError(`${configPath}.options.${key}: unknown filestorage2 option (known: ${KNOWN.join(', ')})`, `${configPath}.options.${key}`);
    }
  }
  const syncMode = options['syncMode'] ?? 'always';
  if (typeof syncMode !== 'string' || !(SYNC_MODES as readonly string[]).includes(syncMode)) {
    throw new InvalidConfigError(`${configPath}.options.syncMode must be one of ${SYNC_MODES.join(', ')}`, `${configPath}.options.syncMode`);
  }
  const segmentSize = options['segmentSize'] ?? DEFAULT_SEGMENT_SIZE;
  if (typeof segmentSize !== 'number' || !Number.isSafeInteger(segmentSize) || segmentSize < 4096 || segmentSize > 2 ** 40) {
    throw new InvalidConfigError(`${configPath}.options.segmentSize must be an integer between 4096 and 2^40 bytes`, `${configPath}.options.segmentSize`);
  }
  const readOnly = options['readOnly'] ?? false;
  if (typeof readOnly !== 'boolean') {
    throw new InvalidConfigError(`${configPath}.options.readOnly must be a boolean`, `${configPath}.options.readOnly`);
  }
  const archivePacked = options['archivePacked'] ?? false;
  if (typeof archivePacked !== 'boolean') {
    throw new InvalidConfigError(`${configPath}.options.archivePacked must be a boolean`, `${configPath}.options.archivePacked`);
  }
  const inlineSync = options['inlineSync'] ?? true;
  if (typeof inlineSync !== 'boolean') {
    throw new InvalidConfigError(`${configPath}.options.inlineSync must be a boolean`, `${configPath}.options.inlineSync`);
  }
  return Object.freeze({ directory: location, syncMode: syncMode as SyncMode, segmentSize, readOnly, archivePacked, inlineSync, configPath });
}

/** Validates an engine request for filestorage2. */
export function parseEngineRequest(request: EngineRequest): FileStorage2Options {
  return parseFileStorage2Options(request.location, request.options, request.configPath);
}
