/** Options of the HTTP blob gateway, their defaults and their checks. */
import type { IncomingMessage } from 'node:http';
import type { Blob, Transaction } from '../contracts/database.js';
import { InvalidArgumentError } from '../contracts/errors.js';
import { describeValue } from '../util/validate.js';

/** Options of `blobGateway`. */
export interface BlobGatewayOptions {
  /** Largest request body of POST and PUT, in bytes (default 1 GiB); a larger one gets 413 and commits nothing. */
  readonly maxUploadBytes?: number;
  /** Chunk size and highWaterMark of blob read streams, 1 B to 64 MiB (default 64 KiB): with the socket's buffer, what one download holds in memory. */
  readonly chunkBytes?: number;
  /** Cache-Control of blob responses (default "private, max-age=31536000, immutable": a locator names an immutable revision and is a secret). */
  readonly cacheControl?: string;
  /** Accept POST and PUT (default true); false answers them 405. */
  readonly allowUploads?: boolean;
  /**
   * Called inside the upload's transaction after the body was stored, before the commit: link the
   * new blob object from the application's records here (an unreferenced blob object is garbage to
   * `handlerton gc`). Throwing aborts the upload (500).
   */
  readonly onUpload?: (tx: Transaction, blob: Blob, request: IncomingMessage) => Promise<void>;
  /** Told about unexpected errors (answered 500); default: nothing. */
  readonly onError?: (error: unknown) => void;
}

/** The options with every default filled in. */
export type ResolvedGatewayOptions = Required<Omit<BlobGatewayOptions, 'onUpload'>> & Pick<BlobGatewayOptions, 'onUpload'>;

const MAX_CHUNK = 64 * 1024 * 1024;

/** Checks `options` (InvalidArgumentError naming the option) and fills in the defaults. */
export function resolveGatewayOptions(options: BlobGatewayOptions = {}): ResolvedGatewayOptions {
  const maxUploadBytes = options.maxUploadBytes ?? 1024 ** 3;
  if (!Number.isSafeInteger(maxUploadBytes) || maxUploadBytes < 0) {
    throw new InvalidArgumentError(`options.maxUploadBytes must be a non-negative integer, got ${describeValue(maxUploadBytes)}`);
  }
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_CHUNK) {
    throw new InvalidArgumentError(`options.chunkBytes must be an integer from 1 to ${MAX_CHUNK}, got ${describeValue(chunkBytes)}`);
  }
  const cacheControl = options.cacheControl ?? 'private, max-age=31536000, immutable';
  if (typeof cacheControl !== 'string') throw new InvalidArgumentError(`options.cacheControl must be a string, got ${describeValue(cacheControl)}`);
  if (options.onUpload !== undefined && typeof options.onUpload !== 'function') {
    throw new InvalidArgumentError(`options.onUpload must be a function, got ${describeValue(options.onUpload)}`);
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new InvalidArgumentError(`options.onError must be a function, got ${describeValue(options.onError)}`);
  }
  return {
    maxUploadBytes,
    chunkBytes,
    cacheControl,
    allowUploads: options.allowUploads ?? true,
    onUpload: options.onUpload,
    onError: options.onError ?? (() => {}),
  };
}
