/** Builds a Database over engine instances the caller already opened. */
import type { BlobHandlerton } from '../contracts/blob-handlerton.js';
import type { Clock, Logger } from '../contracts/context.js';
import { silentLogger, systemClock } from '../contracts/context.js';
import type { Database, RecordCodec } from '../contracts/database.js';
import { CorruptionError, isHandlertonError } from '../contracts/errors.js';
import { LocatorCodec } from '../contracts/locator.js';
import type { Storage } from '../contracts/storage.js';
import { toHex, type Oid, type Tid } from '../contracts/ids.js';
import type { LoadedRecord } from '../contracts/records.js';
import { BlobServices } from '../blobs/blob-services.js';
import { DatabaseImpl } from './database.js';
import { keysFromStorage } from './locator-keys.js';
import { RuntimeStorage } from './runtime-storage.js';
import { DEFAULT_RECORD_CACHE_BYTES } from './record-cache.js';

/** The parts of a database built from opened engines. */
export interface DatabaseEngines {
  readonly storage: Storage;
  readonly blobs: BlobHandlerton;
  /**
   * Keys that sign (first) and verify locators; default: one derived from the storage's per-database
   * secret (`Storage.locatorSecret`), or a random key when it keeps none (locators die with the process).
   */
  readonly locatorKeys?: readonly Uint8Array[];
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Runs after the engines closed. */
  readonly onClose?: () => Promise<void>;
  /** Bound of the record cache in bytes; 0 turns it off (default DEFAULT_RECORD_CACHE_BYTES, 64 MiB). */
  readonly recordCacheBytes?: number;
  /** The record codec (default: the bytes codec; see `RecordCodec`). */
  readonly codec?: RecordCodec<unknown>;
}

/** Creates the Database API over opened engines; recovers blob transactions a crash left prepared. */
export function createDatabase<V>(parts: DatabaseEngines & { readonly codec: RecordCodec<unknown> }): Promise<DatabaseImpl<V> & Database<V>>;
/** Creates the Database API over opened engines, records as bytes (no codec given). */
export function createDatabase(parts: DatabaseEngines): Promise<DatabaseImpl & Database>;
export async function createDatabase<V>(parts: DatabaseEngines): Promise<DatabaseImpl<V> & Database<V>> {
  const logger = parts.logger ?? silentLogger;
  const clock = parts.clock ?? systemClock;
  const recordCacheBytes = parts.recordCacheBytes ?? DEFAULT_RECORD_CACHE_BYTES;
  const storage =
    parts.storage instanceof RuntimeStorage ? parts.storage : new RuntimeStorage(parts.storage, logger, { recordCacheBytes });
  const keys = parts.locatorKeys !== undefined && parts.locatorKeys.length > 0 ? parts.locatorKeys : await keysFromStorage(storage);
  const services = new BlobServices(parts.blobs, new LocatorCodec(keys, storage.databaseId), clock);
  if (parts.blobs.recover !== undefined) {
    await parts.blobs.recover(
      async (pending) => {
        const record = await loadIfPresent(storage, pending.oid, pending.revision);
        return record !== null && record.refs.blobs.some((ref) => ref.blobId === pending.blobId && ref.revision === pending.revision);
      },
      async (pending) => (await loadIfPresent(storage, pending.witness, pending.tid)) !== null,
    );
  }
  await checkStorageNotBehindBlobs(storage, parts.blobs);
  return new DatabaseImpl<V>({
    storage,
    services,
    clock,
    logger,
    ...(parts.onClose ? { onClose: parts.onClose } : {}),
    ...(parts.codec ? { codec: parts.codec } : {}),
  });
}

/**
 * A committed blob revision is the tid of a storage transaction that committed before it (2PC: the
 * storage finishes, then the handlerton commits). A crash-safe storage whose last transaction is older
 * than such a revision lost committed transactions (e.g. a truncated log): CorruptionError naming it.
 */
async function checkStorageNotBehindBlobs(storage: RuntimeStorage, blobs: BlobHandlerton): Promise<void> {
  if (blobs.newestRevision === undefined || !storage.capabilities.crashSafe || !blobs.capabilities.durable) return;
  if (blobs.capabilities.mode !== 'dataTransactional') return;
  const newest = await blobs.newestRevision();
  const last = storage.lastTransaction();
  if (newest !== null && newest > last) {
    throw new CorruptionError(
      `the storage's last transaction ${toHex(last)} is older than blob revision ${toHex(newest)} that blob handlerton "${blobs.name}" committed: the storage lost committed transactions`,
      storage.engine.location,
    );
  }
}

/** Revision `tid` of `oid`, or null when the storage has none (the transaction did not commit it). */
async function loadIfPresent(storage: RuntimeStorage, oid: Oid, tid: Tid): Promise<LoadedRecord | null> {
  try {
    return await storage.loadSerial(oid, tid);
  } catch (error) {
    if (isHandlertonError(error, 'HANDLERTON_POS_KEY')) return null;
    throw error;
  }
}
