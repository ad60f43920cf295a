/**
 * The engine plugin: "postgres". It provides a Storage (and a BlobHandlerton) kept in one
 * PostgreSQL schema, which several client processes may share.
 */
import type { BlobHandlerton, EngineContext, EngineOptions, EnginePlugin, EngineRequest, Storage } from '@handlerton/framework';
import { PgBlobs } from './pg-blobs.js';
import { asPgOptions, parsePgOptions } from './options.js';
import { ENGINE_NAME, PgStorage } from './pg-storage.js';

/** The PostgreSQL engine plugin. */
export const plugin: EnginePlugin = Object.freeze({
  name: ENGINE_NAME,
  aliases: Object.freeze(['postgresql']),
  description: 'PostgreSQL (pg + kysely migrations): records and 256 KiB copy-on-write blob chunks in one schema shared by many clients, server-side commit lock',
  storageCapabilities: PgStorage.capabilities,
  blobCapabilities: PgBlobs.capabilities,
  parseOptions(request: EngineRequest): EngineOptions {
    return parsePgOptions(request) as unknown as EngineOptions;
  },
  async createStorage(options: EngineOptions, context: EngineContext): Promise<Storage> {
    return PgStorage.open(asPgOptions(options), context.clock);
  },
  async createBlobHandlerton(options: EngineOptions, context: EngineContext): Promise<BlobHandlerton> {
    return PgBlobs.open(asPgOptions(options), context.fs);
  },
});
