/**
 * Property-based fuzz of the public API (issue 11, "Done when"): on every engine, sequences of calls
 * with random and hostile arguments (configs, options, oids, data, refs, modes, offsets, sizes,
 * locators, pack dates, tids, transaction options and metadata). Every call must resolve or reject
 * with a HandlertonError within 5 s, nothing may reject unhandled, and after each sequence (its
 * transactions aborted) the committed baseline reads back unchanged.
 *
 * Bounded: FUZZ_RUNS sequences per engine (default below) and a time budget per engine;
 * HANDLERTON_FUZZ_RUNS=<n> runs n sequences per engine without the time budget (long runs).
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { openDatabase, type DatabaseConfig } from '@handlerton/framework';
import { commandArg } from './fuzz/arbitraries.js';
import { checkBaseline, commitBaseline, runSequence, type FuzzCounts, type FuzzTarget } from './fuzz/interpreter.js';

const LONG_RUNS = Number.parseInt(process.env['HANDLERTON_FUZZ_RUNS'] ?? '', 10);
const RUNS = Number.isSafeInteger(LONG_RUNS) && LONG_RUNS > 0 ? LONG_RUNS : 60;
/** Per engine in a normal `npm test`: the file stays well under a minute on a 2-core machine. */
const TIME_BUDGET_MS = Number.isSafeInteger(LONG_RUNS) && LONG_RUNS > 0 ? undefined : 10_000;
const MAX_CALLS = 12;

interface Engine {
  readonly name: string;
  readonly config: (dir: string) => DatabaseConfig;
}

const fs2 = (path: string) => ({ engine: 'filestorage2', path, options: { syncMode: 'none' } });
const sqlite = (path: string) => ({ engine: 'sqlite', path, options: { synchronous: 'normal' } });

const ENGINES: readonly Engine[] = [
  { name: 'memory', config: () => 'memory:' },
  { name: 'filestorage2', config: (dir) => fs2(join(dir, 'fs2')) },
  { name: 'sqlite', config: (dir) => sqlite(join(dir, 'db.sqlite')) },
  { name: 'filestorage2 + sqlite blobs', config: (dir) => ({ storage: fs2(join(dir, 'fs2')), blobs: sqlite(join(dir, 'blobs.sqlite')) }) },
];

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

for (const engine of ENGINES) {
  test.serial(`fuzz the public API with hostile arguments: ${engine.name}`, async (t) => {
    t.timeout(TIME_BUDGET_MS === undefined ? 24 * 3600_000 : 90_000);
    const dir = mkdtempSync(join(tmpdir(), 'handlerton-fuzz-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const db = await openDatabase(engine.config(dir));
    const target: FuzzTarget = { db, baseline: await commitBaseline(db), scratchDir: dir };
    const counts: FuzzCounts = { calls: 0, refused: 0 };
    const started = Date.now();
    const property = fc.asyncProperty(fc.array(commandArg, { minLength: 1, maxLength: MAX_CALLS }), async (commands) => {
      await runSequence(target, commands, counts);
      await new Promise((resolve) => setImmediate(resolve));
      if (unhandled.length > 0) throw new Error(`unhandled rejection: ${String(unhandled.splice(0)[0])}`);
    });
    const details = await fc.check(property, {
      numRuns: RUNS,
      interruptAfterTimeLimit: TIME_BUDGET_MS,
      markInterruptAsFailure: false,
      // A failing sequence is printed shrunk in normal runs (shrinking a hang costs 5 s a step, so it is
      // bounded); long runs stop at the first failure and print it as found.
      skipAllAfterTimeLimit: TIME_BUDGET_MS === undefined ? undefined : 60_000,
      endOnFailure: TIME_BUDGET_MS === undefined,
    });
    const ms = Date.now() - started;
    t.log(`${engine.name}: ${details.numRuns} sequences, ${counts.calls} calls (${counts.refused} refused with a typed error) in ${ms} ms; seed ${details.seed}`);
    if (details.failed) t.fail(`${fc.defaultReportMessage(details) ?? 'fuzz failed'}\n${String(details.errorInstance)}`);
    else t.true(details.numRuns > 0, 'the fuzz ran');
    // The database is still usable, and reopening it (disk engines) shows the same baseline.
    await db.close();
    if (engine.name !== 'memory') {
      const reopened = await openDatabase(engine.config(dir));
      await checkBaseline({ ...target, db: reopened });
      await reopened.close();
    }
    t.is(unhandled.length, 0);
  });
}
