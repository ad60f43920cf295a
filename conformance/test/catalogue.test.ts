/** The catalogue itself: unique ids, every area populated, valid requirements, one-line rules. */
import test from 'ava';
import { blobCapabilities, BLOB_CAPABILITY_NAMES, storageCapabilities, STORAGE_CAPABILITY_NAMES } from '@handlerton/framework';
import { AREAS, CATALOGUE, gate } from '../src/index.js';
import { memoryHarness } from './helpers.js';

test('the catalogue has at least 120 cases with unique ids, prefixed by their area', (t) => {
  t.true(CATALOGUE.length >= 120);
  t.is(new Set(CATALOGUE.map((c) => c.id)).size, CATALOGUE.length);
  for (const c of CATALOGUE) t.true(c.id.startsWith(`${c.area}.`), c.id);
});

test('every area has cases, and every case a one-line rule and known requirements', (t) => {
  for (const area of AREAS) t.true(CATALOGUE.some((c) => c.area === area), area);
  const known = new Set<string>([
    ...STORAGE_CAPABILITY_NAMES,
    ...BLOB_CAPABILITY_NAMES.map((n) => `blob.${n}`),
    'mode.transactional',
    'mode.nontransactional',
    'mode.dataTransactional',
    'harness.crash',
    'harness.clients',
    'harness.blobFiles',
  ]);
  for (const c of CATALOGUE) {
    t.true(c.title.length > 10 && !c.title.includes('\n'), c.id);
    for (const r of [...c.requires, ...(c.unless ?? [])]) t.true(known.has(r), `${c.id} requires unknown ${r}`);
  }
});

test('negative (unless) cases are skipped only because the engine claims the capability they test without', (t) => {
  const harness = memoryHarness();
  const negatives = CATALOGUE.filter((c) => (c.unless ?? []).length > 0);
  t.true(negatives.length >= 10);
  for (const c of negatives) {
    const decision = gate(c, harness);
    if (!decision.run) t.regex(decision.reason, /=true|blob mode is/, c.id);
  }
});

test('multi-client cases run only where the engine claims multiClient and the harness gives a clientConfig', (t) => {
  const cases = CATALOGUE.filter((c) => c.area === 'multi-client');
  t.true(cases.length >= 6);
  const harness = memoryHarness();
  const claiming = { ...harness, storageCapabilities: { ...harness.storageCapabilities, multiClient: true } };
  const withConfig = { ...claiming, clientConfig: () => ({ engine: 'memory' }) };
  for (const c of cases) {
    t.deepEqual(c.requires.slice(0, 2), ['multiClient', 'harness.clients'], c.id);
    const memory = gate(c, harness);
    t.true(!memory.run && memory.reason.includes('multiClient=false'), c.id);
    const noConfig = gate(c, claiming);
    t.true(!noConfig.run && noConfig.reason.includes('clientConfig'), c.id);
    t.true(gate(c, withConfig).run, c.id);
  }
});

test('cases that damage blob files skip with the harness reason where blob bytes live elsewhere (a server)', (t) => {
  const damage = CATALOGUE.find((c) => c.id === 'durability.blob-damage-detected')!;
  const onDisk = { name: 'files', storageCapabilities: storageCapabilities({ durable: true }), blobCapabilities: blobCapabilities({ mode: 'dataTransactional', durable: true }), factory: async () => { throw new Error('not opened'); } };
  t.deepEqual(gate(damage, onDisk), { run: true });
  t.deepEqual(gate(damage, { ...onDisk, blobBytesElsewhere: 'in the server' }), { run: false, reason: 'in the server' });
});
