/**
 * The whole suite again through the framework's RuntimeStorage wrapper (argument validation, state
 * tracking), as abstract-level re-runs its suite through sublevels.
 */
import test from 'ava';
import { RuntimeStorage } from '@handlerton/framework';
import { conformance, wrapStorageHarness } from '../src/index.js';
import { KNOWN_FRAMEWORK_DEFECTS, memoryHarness } from './helpers.js';

conformance(
  test,
  wrapStorageHarness(memoryHarness(), 'memory via RuntimeStorage', (storage) => new RuntimeStorage(storage)),
  { exclude: KNOWN_FRAMEWORK_DEFECTS },
);
