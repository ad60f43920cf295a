// Measures the cost of confirming a record miss (src/miss-check.ts): load() hits, load() misses, the
// pointer lookup alone and confirmCurrentMiss alone (object_current since migration 0003), alternating rounds. usage: node scripts/measure-miss-check.mjs [objects]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStorage } from '../dist/src/index.js';
import { confirmCurrentMiss } from '../dist/src/miss-check.js';
import { storageTransaction, NO_REFS } from '@handlerton/framework';

const OBJECTS = Number(process.argv[2] ?? 100000);
const N = 20000;
const ROUNDS = 5;
const dir = mkdtempSync(join(tmpdir(), 'miss-check-'));
const storage = await SqliteStorage.open({ location: join(dir, 'db'), synchronous: 'normal', chunkSize: 262144, busyTimeoutMs: 100 });
const conn = storage.connection;
const data = new Uint8Array(200).fill(7);
// Even oids exist, odd oids are gaps: every odd oid below the highest is a genuine miss.
for (let first = 2; first <= 2 * OBJECTS; first += 20000) {
  const txn = storageTransaction();
  await storage.tpcBegin(txn);
  for (let oid = first; oid < first + 20000 && oid <= 2 * OBJECTS; oid += 2) await storage.store(BigInt(oid), 0n, { data, refs: NO_REFS }, txn);
  await storage.tpcVote(txn);
  await storage.tpcFinish(txn);
}
const current = storage['sql'].currentSerial;
const pick = (i, odd) => BigInt(2 * (1 + ((i * 7919) % (OBJECTS - 1))) + (odd ? 1 : 0));
const cases = {
  'load hit': async () => { for (let i = 0; i < N; i++) await storage.load(pick(i, false)); },
  'load miss (POSKeyError, with the check)': async () => {
    for (let i = 0; i < N; i++) await storage.load(pick(i, true)).catch(() => undefined);
  },
  'lookup alone (prepared statement)': async () => { for (let i = 0; i < N; i++) current.get({ oid: pick(i, true) }); },
  'confirmCurrentMiss alone': async () => { for (let i = 0; i < N; i++) confirmCurrentMiss(conn, pick(i, true)); },
};
const results = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [label, fn] of Object.entries(cases)) {
    const t0 = performance.now();
    await fn();
    results[label].push(((performance.now() - t0) * 1000) / N);
  }
}
for (const [label, values] of Object.entries(results)) {
  values.sort((a, b) => a - b);
  console.log(`${label.padEnd(44)} median ${values[Math.floor(values.length / 2)].toFixed(2)} us/op  (min ${values[0].toFixed(2)}, max ${values.at(-1).toFixed(2)})`);
}
await storage.close();
rmSync(dir, { recursive: true, force: true });
