/** The whole suite against the SQLite engine (storage and chunked blobs), when the engine is built; the record-reading areas again with the cache off. */
import test from 'ava';
import { storageCapabilities } from '@handlerton/framework';
import { cacheOffHarness, conformance, harnessFromPlugin, harnessFromPluginProbed, type Harness } from '../src/index.js';
import { tryLoad } from './engines.js';
import { KNOWN_FRAMEWORK_DEFECTS } from './helpers.js';

const loaded = await tryLoad('sqlite');
// synchronous: 'normal' keeps this repo's test run short; durability across a clean close is unchanged.
if ('plugin' in loaded) {
  const harness = await harnessFromPluginProbed(loaded.plugin, { options: { synchronous: 'normal' } });
  conformance(test, harness, { exclude: KNOWN_FRAMEWORK_DEFECTS, concurrency: 4 });
  // The areas whose Database cases read and write records again, with the record cache off.
  conformance(test, cacheOffHarness(harness), { exclude: KNOWN_FRAMEWORK_DEFECTS, areas: ['transactions', 'conflicts', 'mvcc', 'external-gc', 'concurrency'], concurrency: 4 });
  // The cases gated on readOnly, against engines opened read-only on a database made (and closed) by a writable open.
  const readOnly = harnessFromPlugin(loaded.plugin, {
    name: 'sqlite-blobs (read-only)',
    options: { readOnly: true },
    storageCapabilities: storageCapabilities({ ...harness.storageCapabilities, readOnly: true }),
    blobCapabilities: harness.blobCapabilities,
  });
  const readOnlyHarness: Harness = {
    ...readOnly,
    factory: async (location) => {
      const made = await harness.factory(location);
      await Promise.all([made.storage.close(), made.blobs.close()]);
      return readOnly.factory(location);
    },
  };
  conformance(test, readOnlyHarness, { exclude: KNOWN_FRAMEWORK_DEFECTS, only: ['manifest.read-only'] });
}
else test.skip(loaded.missing, (t) => t.pass());
