/** The whole suite against FileStorage2 (storage and blobs), when the engine is built. */
import test from 'ava';
import { conformance, harnessFromPlugin } from '../src/index.js';
import { tryLoad } from './engines.js';
import { KNOWN_FRAMEWORK_DEFECTS } from './helpers.js';

const loaded = await tryLoad('filestorage2');
if ('plugin' in loaded) conformance(test, harnessFromPlugin(loaded.plugin), { exclude: KNOWN_FRAMEWORK_DEFECTS, concurrency: 4 });
else test.skip(loaded.missing, (t) => t.pass());
