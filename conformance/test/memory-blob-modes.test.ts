/** The blob and locator areas again with the memory blob handlerton in the two other WL#3583 modes. */
import test from 'ava';
import { conformance } from '../src/index.js';
import { KNOWN_NON_DATA_TRANSACTIONAL_DEFECTS, memoryHarness } from './helpers.js';

for (const mode of ['transactional', 'nontransactional'] as const) {
  conformance(test, memoryHarness(mode), { areas: ['blobs', 'locators', 'concurrency', 'model'], exclude: KNOWN_NON_DATA_TRANSACTIONAL_DEFECTS });
}
