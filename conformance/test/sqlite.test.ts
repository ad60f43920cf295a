/** The whole suite against the SQLite engine (storage and chunked blobs), when the engine is built. */
import test from 'ava';
import { conformance, harnessFromPluginProbed } from '../src/index.js';
import { tryLoad } from './engines.js';
import { KNOWN_FRAMEWORK_DEFECTS } from './helpers.js';

const loaded = await tryLoad('sqlite');
// synchronous: 'normal' keeps this repo's test run short; durability across a clean close is unchanged.
if ('plugin' in loaded) {
  conformance(test, await harnessFromPluginProbed(loaded.plugin, { options: { synchronous: 'normal' } }), { exclude: KNOWN_FRAMEWORK_DEFECTS, concurrency: 4 });
}
else test.skip(loaded.missing, (t) => t.pass());
