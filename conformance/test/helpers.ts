/** Shared harnesses for this repo's own runs of the suite. */
import { plugin as memoryPlugin } from '@handlerton/memory';
import type { BlobTransactionMode } from '@handlerton/framework';
import { MemoryBlobHandlerton } from '@handlerton/memory';
import { harnessFromPlugin, type Harness } from '../src/index.js';

/** The memory engine with its blob handlerton in `mode`. */
export function memoryHarness(mode: BlobTransactionMode = 'dataTransactional'): Harness {
  return harnessFromPlugin(memoryPlugin, {
    name: mode === 'dataTransactional' ? 'memory' : `memory(${mode})`,
    options: { blobMode: mode },
    blobCapabilities: MemoryBlobHandlerton.capabilitiesFor(mode),
  });
}
