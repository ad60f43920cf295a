/**
 * The whole suite against FileStorage2 (storage and blobs), when the engine is built; then the
 * record areas again on engines that went through a close/reopen cycle first (the reopened trait),
 * and with the Database's record cache off.
 */
import test from 'ava';
import { cacheOffHarness, conformance, harnessFromPlugin, reopenedHarness } from '../src/index.js';
import { tryLoad } from './engines.js';
import { KNOWN_FRAMEWORK_DEFECTS } from './helpers.js';

const loaded = await tryLoad('filestorage2');
if ('plugin' in loaded) {
  const harness = harnessFromPlugin(loaded.plugin);
  conformance(test, harness, { exclude: KNOWN_FRAMEWORK_DEFECTS, concurrency: 4 });
  conformance(test, reopenedHarness(harness), { areas: ['transactions', 'conflicts', 'mvcc', 'history'], concurrency: 4 });
  // The Database's record cache is on above (the default); the record areas again with it off.
  conformance(test, cacheOffHarness(harness), { areas: ['transactions', 'conflicts', 'mvcc', 'external-gc'], concurrency: 4 });
} else {
  test.skip(loaded.missing, (t) => t.pass());
}
