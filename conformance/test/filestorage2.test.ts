/**
 * The whole suite against FileStorage2 (storage and blobs), when the engine is built; then the
 * record areas again on engines that went through a close/reopen cycle first (the reopened trait).
 */
import test from 'ava';
import { conformance, harnessFromPlugin, reopenedHarness } from '../src/index.js';
import { tryLoad } from './engines.js';
import { KNOWN_FRAMEWORK_DEFECTS } from './helpers.js';

const loaded = await tryLoad('filestorage2');
if ('plugin' in loaded) {
  const harness = harnessFromPlugin(loaded.plugin);
  conformance(test, harness, { exclude: KNOWN_FRAMEWORK_DEFECTS, concurrency: 4 });
  conformance(test, reopenedHarness(harness), { areas: ['transactions', 'conflicts', 'mvcc', 'history'], concurrency: 4 });
} else {
  test.skip(loaded.missing, (t) => t.pass());
}
