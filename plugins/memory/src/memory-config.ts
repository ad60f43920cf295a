/**
 * Options of the memory engine: validated once, frozen, and read back by the plugin.
 */
import { describeValue, InvalidConfigError } from '@handlerton/framework';
import type { BlobTransactionMode, EngineOptions, EngineRequest } from '@handlerton/framework';
import { DEFAULT_CHUNK_SIZE } from './memory-blobs.js';

/** The validated options of the memory engine. */
export interface MemoryOptions extends EngineOptions {
  /** Bytes per blob chunk: a power of two from 4 KiB to 16 MiB. */
  readonly chunkSize: number;
  /** The transactional mode the blob handlerton declares. */
  readonly blobMode: BlobTransactionMode;
}

const MIN_CHUNK = 4096;
const MAX_CHUNK = 16 * 1024 * 1024;
const MODES: readonly BlobTransactionMode[] = ['dataTransactional', 'transactional', 'nontransactional'];
const KNOWN = ['chunkSize', 'blobMode'];

/** Validates a memory engine request; InvalidConfigError naming the offending option. */
export function parseMemoryOptions(request: EngineRequest): MemoryOptions {
  const at = request.configPath;
  if (request.location !== undefined && request.location !== '') {
    throw new InvalidConfigError(
      `${at}.location must be empty: the memory engine keeps nothing on disk, got ${describeValue(request.location)}`,
      `${at}.location`,
    );
  }
  const options: Readonly<Record<string, unknown>> = request.options ?? {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidConfigError(`${at}.options must be an object`, `${at}.options`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) {
      throw new InvalidConfigError(`${at}.options.${key} is not a memory engine option (known: ${KNOWN.join(', ')})`, `${at}.options.${key}`);
    }
  }
  const chunkSize = options['chunkSize'] ?? DEFAULT_CHUNK_SIZE;
  if (typeof chunkSize !== 'number' || !Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK || chunkSize > MAX_CHUNK || (chunkSize & (chunkSize - 1)) !== 0) {
    throw new InvalidConfigError(
      `${at}.options.chunkSize must be a power of two from ${MIN_CHUNK} to ${MAX_CHUNK}, got ${describeValue(chunkSize)}`,
      `${at}.options.chunkSize`,
    );
  }
  const blobMode = options['blobMode'] ?? 'dataTransactional';
  if (typeof blobMode !== 'string' || !(MODES as readonly string[]).includes(blobMode)) {
    throw new InvalidConfigError(
      `${at}.options.blobMode must be one of ${MODES.join(', ')}, got ${describeValue(blobMode)}`,
      `${at}.options.blobMode`,
    );
  }
  return Object.freeze({ chunkSize, blobMode: blobMode as BlobTransactionMode });
}
