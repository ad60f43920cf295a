/**
 * The writer child of the kill loop (run as `node writer.js '<WriterSpec JSON>'`): opens the
 * database, learns where the previous writer stopped from the root record, and commits the
 * deterministic workload transaction after transaction until it is killed, printing
 * `ACK <seq> <tid>` only after db.transaction returned (see protocol.ts).
 */
import { openDatabase } from '@handlerton/framework';
import { say } from '../util/say.js';
import type { WriterSpec } from './protocol.js';
import { commitTransaction, readWriterState } from './workload-writer.js';

const MAX_TRANSACTIONS = 1_000_000;

async function main(): Promise<void> {
  const specText = process.argv[2];
  if (specText === undefined) throw new Error('usage: writer.js <WriterSpec JSON>');
  const spec = JSON.parse(specText) as WriterSpec;
  for (const module of spec.preload) await import(module);
  // Stop when the parent goes away (its end of stdin closes), so no writer outlives a loop.
  process.stdin.on('end', () => process.exit(3));
  process.stdin.resume();
  await say('OPENING');
  const db = await openDatabase(spec.config);
  let state = await readWriterState(db);
  const start = state.root?.seq ?? 0;
  await say(`READY ${start}`);
  for (let seq = start + 1; seq <= start + MAX_TRANSACTIONS; seq++) {
    state = await commitTransaction(db, seq, state, spec.blobs);
    await say(`ACK ${seq} ${db.lastTransaction()}`);
    if (spec.packEvery > 0 && seq % spec.packEvery === 0) {
      await say(`PACK ${seq}`);
      await db.pack();
      await say(`PACKED ${seq}`);
    }
  }
  await db.close();
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`${error instanceof Error ? (error.stack ?? message) : message}\n`);
  void say(`FAIL ${message.replace(/\n/g, ' ')}`).finally(() => process.exit(1));
});
