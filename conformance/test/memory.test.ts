/**
 * The whole suite against the memory engine (the reference: it passes every case its flags claim),
 * with the Database's record cache on (the default); then the areas whose Database cases read and
 * write records again with the cache off.
 */
import test from 'ava';
import { cacheOffHarness, conformance } from '../src/index.js';
import { KNOWN_FRAMEWORK_DEFECTS, memoryHarness } from './helpers.js';

conformance(test, memoryHarness(), { exclude: KNOWN_FRAMEWORK_DEFECTS });
conformance(test, cacheOffHarness(memoryHarness()), {
  exclude: KNOWN_FRAMEWORK_DEFECTS,
  areas: ['transactions', 'conflicts', 'mvcc', 'packing', 'external-gc', 'concurrency', 'model'],
});
