/**
 * The multi-client cases can fail: a harness that claims multiClient but hands other processes a
 * config opening a database of their own (each memory: engine is private to its process) fails
 * every one of them.
 */
import test from 'ava';
import { CATALOGUE, runCases, type Harness } from '../src/index.js';
import { memoryHarness } from './helpers.js';

test('every multi-client case fails when the other clients do not share the database', async (t) => {
  const memory = memoryHarness();
  const broken: Harness = {
    ...memory,
    name: 'memory claiming multiClient',
    storageCapabilities: { ...memory.storageCapabilities, multiClient: true },
    clientConfig: () => ({ engine: 'memory' }),
  };
  const cases = CATALOGUE.filter((c) => c.area === 'multi-client');
  const results = await runCases(cases, broken, { concurrency: 3, timeoutMs: 60_000 });
  for (const result of results) t.is(result.status, 'fail', `${result.id}: ${result.reason ?? ''}`);
  t.is(results.length, cases.length);
});
