/** Builds a Database over engine instances the caller already opened. */
import { randomBytes } from 'node:crypto';
import type { BlobHandlerton } from '../contracts/blob-handlerton.js';
import type { Clock, Logger } from '../contracts/context.js';
import { silentLogger, systemClock } from '../contracts/context.js';
import type { Database } from '../contracts/database.js';
import { isHandlertonError } from '../contracts/errors.js';
import { LocatorCodec } from '../contracts/locator.js';
import type { Storage } from '../contracts/storage.js';
import { BlobServices } from '../blobs/blob-services.js';
import { DatabaseImpl } from './database.js';
import { RuntimeStorage } from './runtime-storage.js';

/** The parts of a database built from opened engines. */
export interface DatabaseEngines {
  readonly storage: Storage;
  readonly blobs: BlobHandlerton;
  /** Keys that sign (first) and verify locators; default: one random key (locators die with the process). */
  readonly locatorKeys?: readonly Uint8Array[];
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Runs after the engines closed. */
  readonly onClose?: () => Promise<void>;
}

/** Creates the Database API over opened engines; recovers blob transactions a crash left prepared. */
export async function createDatabase(parts: DatabaseEngines): Promise<DatabaseImpl & Database> {
  const logger = parts.logger ?? silentLogger;
  const clock = parts.clock ?? systemClock;
  const storage = parts.storage instanceof RuntimeStorage ? parts.storage : new RuntimeStorage(parts.storage, logger);
  const keys = parts.locatorKeys ?? [randomBytes(32)];
  const services = new BlobServices(parts.blobs, new LocatorCodec(keys, storage.databaseId), clock);
  if (parts.blobs.recover !== undefined) {
    await parts.blobs.recover(async (pending) => {
      try {
        const record = await storage.loadSerial(pending.oid, pending.revision);
        return record.refs.blobs.some((ref) => ref.blobId === pending.blobId && ref.revision === pending.revision);
      } catch (error) {
        if (isHandlertonError(error, 'HANDLERTON_POS_KEY')) return false;
        throw error;
      }
    });
  }
  return new DatabaseImpl({ storage, services, clock, logger, ...(parts.onClose ? { onClose: parts.onClose } : {}) });
}
