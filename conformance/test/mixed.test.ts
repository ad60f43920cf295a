/**
 * Mixed pairs (storage from one engine, blobs from another): the areas where storage and blob
 * handlerton meet. The storage-only areas already run per engine in the other files.
 */
import test from 'ava';
import type { Area } from '../src/index.js';
import { conformance, mixedHarness } from '../src/index.js';
import { tryLoad } from './engines.js';
import { KNOWN_FRAMEWORK_DEFECTS } from './helpers.js';

const AREAS: readonly Area[] = ['manifest', 'blobs', 'locators', 'packing', 'external-gc', 'durability'];
const PAIRS: readonly [string, string][] = [
  ['filestorage2', 'sqlite'],
  ['sqlite', 'filestorage2'],
  ['memory', 'filestorage2'],
];

for (const [storageName, blobsName] of PAIRS) {
  const [s, b] = [await tryLoad(storageName), await tryLoad(blobsName)];
  if ('plugin' in s && 'plugin' in b) {
    conformance(test, mixedHarness(s.plugin, b.plugin), { areas: AREAS, exclude: KNOWN_FRAMEWORK_DEFECTS, concurrency: 3 });
  } else {
    test.skip(`${storageName}+${blobsName}: ${'missing' in s ? s.missing : ''} ${'missing' in b ? b.missing : ''}`, (t) => t.pass());
  }
}
