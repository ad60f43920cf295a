/** The whole suite against the memory engine (the reference: it passes every case its flags claim). */
import test from 'ava';
import { conformance } from '../src/index.js';
import { memoryHarness } from './helpers.js';

conformance(test, memoryHarness());
