/**
 * The writer child of the torture loop (run as `node writer.js '<TortureSpec JSON>'`): opens the
 * database (recovering it), lays it out when empty, then runs `committers` concurrent committer
 * loops on the one database plus the planned packs / garbage collections, until it is killed.
 * Each committer prints its ACK only after its db.transaction returned (see protocol.ts).
 */
import { openDatabase, type Database } from '@handlerton/framework';
import { commitNext, openLayout, type CommitSettings } from './committer.js';
import { PackWatch } from './pack-watch.js';
import { say, sayNow } from '../util/say.js';
import { ackLine, type TortureSpec } from './protocol.js';
import type { HeadState, RootState } from './workload.js';

const MAX_TRANSACTIONS = 1_000_000;

async function committer(db: Database, root: RootState, start: HeadState, settings: CommitSettings): Promise<void> {
  let head = start;
  for (let n = 0; n < MAX_TRANSACTIONS; n++) {
    const done = await commitNext(db, root, head, settings);
    await say(ackLine(head.c, done.head.seq, done.tid, done.attempts, done.created));
    head = done.head;
  }
}

async function maintain(db: Database, spec: TortureSpec, watch: PackWatch | undefined): Promise<void> {
  const gc = db.capabilities.storage.externalGC && db.capabilities.storage.iterator;
  for (const step of spec.maintenance) {
    await new Promise((resolve) => setTimeout(resolve, step.delayMs));
    if (step.op === 'gc' && !gc) continue;
    await say(`MAINT ${step.op}`);
    if (step.op === 'gc') await db.collectGarbage({ keep: 0 });
    else if (watch === undefined) await db.pack();
    else {
      const { ops, lastRename } = await watch.run(spec.packWatch?.killAt, () => db.pack());
      await say(`MAINTED pack ${ops} ${lastRename}`);
      continue;
    }
    await say(`MAINTED ${step.op}`);
  }
}

async function main(): Promise<void> {
  const specText = process.argv[2];
  if (specText === undefined) throw new Error('usage: writer.js <TortureSpec JSON>');
  const spec = JSON.parse(specText) as TortureSpec;
  for (const module of spec.preload) await import(module);
  // Stop when the parent goes away (its end of stdin closes), so no writer outlives a loop.
  process.stdin.on('end', () => process.exit(3));
  process.stdin.resume();
  await say('OPENING');
  // A watched writer kills itself inside a pack: the line is written synchronously first.
  const watch = spec.packWatch === undefined ? undefined : new PackWatch((point) => sayNow(`PACKKILL ${point.op} ${point.call} ${point.file}`));
  const db = await openDatabase(spec.config, watch === undefined ? {} : { fs: watch.fs });
  const { root, heads, initTid } = await openLayout(db);
  if (initTid !== undefined) await say(`INIT ${initTid}`);
  const deletes = db.capabilities.storage.externalGC;
  await say(`READY ${deletes ? 1 : 0} ${heads.map((h) => h.seq).join(',')}`);
  const settings: CommitSettings = { seed: spec.seed, maxBlobBytes: spec.maxBlobBytes, deletes };
  const work = heads.slice(0, spec.committers).map((head) => committer(db, root, head, settings));
  await Promise.all([...work, maintain(db, spec, watch)]);
  await db.close();
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`${error instanceof Error ? (error.stack ?? message) : message}\n`);
  void say(`FAIL ${message.replace(/\n/g, ' ')}`).finally(() => process.exit(1));
});
