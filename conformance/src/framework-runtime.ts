/** The framework runtime the suite needs for Database-level cases (blob modes, locators). */
import { createDatabase, type BlobHandlerton, type Database, type Storage } from '@handlerton/framework';

/**
 * Opens the framework's Database API over engines a case owns, signing locators with `locatorKey`;
 * `recordCacheBytes` bounds its record cache (undefined: the framework's default; 0: off).
 */
export async function openDatabaseOver(storage: Storage, blobs: BlobHandlerton, locatorKey: Uint8Array, recordCacheBytes?: number): Promise<Database> {
  return createDatabase({ storage, blobs, locatorKeys: [locatorKey], ...(recordCacheBytes === undefined ? {} : { recordCacheBytes }) });
}
