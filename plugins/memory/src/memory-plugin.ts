/**
 * The memory engine's plugin: one name, "memory", providing both a Storage and a BlobHandlerton.
 */
import type { EngineContext, EngineOptions, EnginePlugin } from '@handlerton/framework';
import { MemoryBlobHandlerton } from './memory-blobs.js';
import { parseMemoryOptions } from './memory-config.js';
import { MemoryStorage } from './memory-storage.js';

/** The "memory" engine: everything in memory, nothing durable; the reference for engine authors. */
export const plugin: EnginePlugin = Object.freeze({
  name: 'memory',
  locationless: true,
  description: 'Reference engine: records and chunked blobs in memory, nothing durable.',
  storageCapabilities: MemoryStorage.capabilities,
  /** For the default blobMode; a handlerton created with another blobMode declares that mode. */
  blobCapabilities: MemoryBlobHandlerton.capabilitiesFor('dataTransactional'),
  parseOptions: parseMemoryOptions,
  async createStorage(_options: EngineOptions, context: EngineContext): Promise<MemoryStorage> {
    return new MemoryStorage({ clock: context.clock });
  },
  async createBlobHandlerton(options: EngineOptions): Promise<MemoryBlobHandlerton> {
    const { chunkSize, blobMode } = parseMemoryOptions({ location: undefined, options, configPath: 'memory' });
    return new MemoryBlobHandlerton({ chunkSize, mode: blobMode });
  },
});
