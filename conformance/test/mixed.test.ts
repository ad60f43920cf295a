/**
 * Mixed pairs (storage from one engine, blobs from another): the areas where storage and blob
 * handlerton meet. The storage-only areas already run per engine in the other files.
 */
import test from 'ava';
import type { EnginePlugin } from '@handlerton/framework';
import type { Area, Harness, PluginHarnessOptions } from '../src/index.js';
import { conformance, harnessFromPluginProbed, mixedHarness } from '../src/index.js';
import { tryLoad } from './engines.js';
import { KNOWN_FRAMEWORK_DEFECTS } from './helpers.js';

const AREAS: readonly Area[] = ['manifest', 'blobs', 'locators', 'packing', 'external-gc', 'durability'];
const PAIRS: readonly [string, string][] = [
  ['filestorage2', 'sqlite'],
  ['sqlite', 'filestorage2'],
  ['memory', 'filestorage2'],
];

/** Per-engine options for this repo's runs: SQLite without an fsync per commit, to keep the run short. */
async function optionsFor(name: string, plugin: EnginePlugin): Promise<PluginHarnessOptions> {
  if (name !== 'sqlite') return {};
  const probed = await harnessFromPluginProbed(plugin, { options: { synchronous: 'normal' } });
  return { options: { synchronous: 'normal' }, storageCapabilities: probed.storageCapabilities, blobCapabilities: probed.blobCapabilities };
}

// ava registers tests synchronously: every await happens before the first registration.
const prepared: (
  | { harness: Harness }
  | { missing: string }
)[] = [];
for (const [storageName, blobsName] of PAIRS) {
  const [s, b] = [await tryLoad(storageName), await tryLoad(blobsName)];
  if ('plugin' in s && 'plugin' in b) {
    prepared.push({ harness: mixedHarness(s.plugin, b.plugin, { storage: await optionsFor(storageName, s.plugin), blobs: await optionsFor(blobsName, b.plugin) }) });
  } else {
    prepared.push({ missing: `${storageName}+${blobsName}: ${'missing' in s ? s.missing : ''} ${'missing' in b ? b.missing : ''}` });
  }
}
for (const entry of prepared) {
  if ('harness' in entry) conformance(test, entry.harness, { areas: AREAS, exclude: KNOWN_FRAMEWORK_DEFECTS, concurrency: 4 });
  else test.skip(entry.missing, (t) => t.pass());
}
