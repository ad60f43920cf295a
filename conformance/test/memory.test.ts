/** The whole suite against the memory engine (the reference: it passes every case its flags claim). */
import test from 'ava';
import { conformance } from '../src/index.js';
import { KNOWN_FRAMEWORK_DEFECTS, memoryHarness } from './helpers.js';

conformance(test, memoryHarness(), { exclude: KNOWN_FRAMEWORK_DEFECTS });
