/** Shared harnesses for this repo's own runs of the suite. */
import { plugin as memoryPlugin, MemoryBlobHandlerton } from '@handlerton/memory';
import type { BlobTransactionMode } from '@handlerton/framework';
import { harnessFromPlugin, type Harness } from '../src/index.js';

/**
 * Cases that fail because of a known framework defect (not an engine's), reported to the lead;
 * they are reported as skipped with this reason until the framework is fixed.
 */
/** Cases excluded because of known framework defects, with the reason (none at present). */
export const KNOWN_FRAMEWORK_DEFECTS: Readonly<Record<string, string>> = {};

/** Cases excluded only for transactional / nontransactional blob handlertons (none at present). */
export const KNOWN_NON_DATA_TRANSACTIONAL_DEFECTS: Readonly<Record<string, string>> = { ...KNOWN_FRAMEWORK_DEFECTS };

/** The memory engine with its blob handlerton in `mode`. */
export function memoryHarness(mode: BlobTransactionMode = 'dataTransactional'): Harness {
  return harnessFromPlugin(memoryPlugin, {
    name: mode === 'dataTransactional' ? 'memory' : `memory(${mode})`,
    options: { blobMode: mode },
    blobCapabilities: MemoryBlobHandlerton.capabilitiesFor(mode),
  });
}
