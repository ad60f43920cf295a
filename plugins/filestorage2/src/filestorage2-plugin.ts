/** The "filestorage2" engine plugin: a FileStorage2 storage and the FileStorage2 blob handlerton. */
import { join } from 'node:path';
import type { EngineContext, EngineOptions, EnginePlugin } from '@handlerton/framework';
import { FileStorage2Blobs } from './blobs/index.js';
import { parseEngineRequest, type FileStorage2Options } from './filestorage2-config.js';
import { FileStorage2 } from './storage/filestorage2.js';
import { assertDatabaseDirectory } from './storage/foreign-directory.js';

/** Reads back options produced by parseOptions (they are frozen FileStorage2Options). */
function asOptions(options: EngineOptions): FileStorage2Options {
  return options as unknown as FileStorage2Options;
}

/** The FileStorage2 engine: segmented log storage with on-disk indexes, plus its blob store. */
export const plugin: EnginePlugin = Object.freeze({
  name: 'filestorage2',
  description: 'Segmented append-only log with sealed on-disk indexes, pack by merging, external GC; blobs as files.',
  storageCapabilities: FileStorage2.capabilitiesFor(false),
  blobCapabilities: FileStorage2Blobs.capabilities,
  parseOptions(request) {
    return parseEngineRequest(request) as unknown as EngineOptions;
  },
  async createStorage(options: EngineOptions, context: EngineContext): Promise<FileStorage2> {
    const o = asOptions(options);
    // Never a database created (or read) inside a directory holding something else.
    assertDatabaseDirectory(context.fs, o.directory, o.configPath ?? 'storage');
    return FileStorage2.open(o, context);
  },
  async createBlobHandlerton(options: EngineOptions, context: EngineContext): Promise<FileStorage2Blobs> {
    const o = asOptions(options);
    assertDatabaseDirectory(context.fs, o.directory, o.configPath ?? 'blobs');
    return FileStorage2Blobs.open({ dir: join(o.directory, 'blobs'), syncMode: o.syncMode, readOnly: o.readOnly }, context);
  },
} satisfies EnginePlugin);
