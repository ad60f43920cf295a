/** `handlerton-conformance corruption --engine <e> [--blobs <e>] [--states N] [--seed S]`: the corruption sweep CLI. */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isHandlertonError } from '@handlerton/framework';
import { TARGET_ARGS, targetFromArgs } from '../harnesses/target.js';
import { describeDamage } from './damage.js';
import { runCorruptionSweep, type CorruptionReport } from './sweep.js';
import { BAD_OUTCOMES, OUTCOMES } from './verify.js';

const USAGE = `usage: handlerton-conformance corruption --engine <name> [--blobs <name>] [options]

Builds a small database (records, blobs of a few chunks, a pack), closes it, then for each state
copies it, flips 1-8 bytes or truncates one file (every file kind in turn), opens the copy and
reads everything. Damage must raise CorruptionError naming the file, or be cut off as the torn
tail of a log (what remains reading exactly), or not matter; never wrong bytes.

  --engine <name>        storage engine (built-in name or package)
  --blobs <name>         blob engine of a mixed pair
  --options <json>       storage engine options (default for built-ins: small segments/chunks)
  --blob-options <json>  blob engine options
  --states <n>           damaged states to try (default 200)
  --seed <n>             PRNG seed (default random; printed)
  --only <i,j,...>       replay only these state numbers (with --seed)
  --timeout-ms <n>       a state taking longer is a hang (default 60000)
  --dir <path>           where the reference and damaged copies go (default: the OS temp dir)
  --keep                 keep the damaged copies of failing states (under --dir)
  --verify               also run \`handlerton verify\` (read-only open, the engines' own checks and
                         the generic one) on a second copy of every state and on undamaged copies:
                         it must report a problem for every detected or cut state
  --verbose              print every state's outcome
  --json <file>          write the report as JSON
  --help                 this text

Exit status: 0 when silent, untyped and mistyped are all 0 (and with --verify, verify found every
detected or cut state and reported the undamaged copies clean); 1 otherwise; 2 on bad usage.`;

function integer(value: string | undefined, flag: string, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${flag} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

class UsageError extends Error {}

/** Prints the per-kind table of a report. */
function formatKinds(report: CorruptionReport): string {
  const columns = ['states', ...OUTCOMES];
  const kinds = Object.keys(report.kinds).sort();
  const width = Math.max(4, ...kinds.map((kind) => kind.length));
  const lines = [[('kind').padEnd(width), ...columns.map((c) => c.padStart(8))].join(' ')];
  for (const kind of kinds) {
    const row = report.kinds[kind]!;
    lines.push([kind.padEnd(width), ...columns.map((c) => String(row[c as keyof typeof row]).padStart(8))].join(' '));
  }
  return lines.join('\n');
}

/** Runs the corruption harness CLI with `argv`; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        ...TARGET_ARGS,
        states: { type: 'string' },
        seed: { type: 'string' },
        only: { type: 'string' },
        'timeout-ms': { type: 'string' },
        keep: { type: 'boolean' },
        dir: { type: 'string' },
        verbose: { type: 'boolean' },
        verify: { type: 'boolean' },
        json: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    console.error(`handlerton-conformance corruption: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const values = parsed.values;
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  let target;
  let states: number | undefined;
  let seed: number | undefined;
  let timeoutMs: number | undefined;
  let only: number[] | undefined;
  try {
    target = targetFromArgs(values);
    states = integer(values.states, 'states', 200);
    seed = integer(values.seed, 'seed', undefined);
    timeoutMs = integer(values['timeout-ms'], 'timeout-ms', undefined);
    only = values.only?.split(',').map((part) => integer(part.trim(), 'only', 0)!);
  } catch (error) {
    if (error instanceof UsageError || isHandlertonError(error)) {
      console.error(`handlerton-conformance corruption: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  const engine = target.storageEngine;
  const blobs = target.label === engine ? undefined : target.blobEngine;
  let done = 0;
  const total = only?.length ?? states ?? 200;
  const report = await runCorruptionSweep({
    engine,
    ...(blobs === undefined ? {} : { blobs }),
    ...(values.options === undefined ? {} : { options: JSON.parse(values.options) as Record<string, unknown> }),
    ...(values['blob-options'] === undefined ? {} : { blobOptions: JSON.parse(values['blob-options']) as Record<string, unknown> }),
    ...(states === undefined ? {} : { states }),
    ...(seed === undefined ? {} : { seed }),
    ...(only === undefined ? {} : { only }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    keepFailures: values.keep === true,
    verify: values.verify === true,
    ...(values.dir === undefined ? {} : { dir: values.dir }),
    onState: (damage, result, verdict) => {
      done++;
      if (values.verbose === true || BAD_OUTCOMES.has(result.outcome)) {
        console.log(`${result.outcome}: ${describeDamage(damage)}: ${result.detail}${verdict === undefined ? '' : `; verify: ${verdict.found ? 'found' : 'not found'}: ${verdict.detail}`}`);
      }
      if (done % 100 === 0) console.log(`corruption: ${done}/${total} states`);
    },
  });
  console.log(formatKinds(report));
  console.log(`detected with the damaged file named: ${report.naming.damagedFile}/${report.naming.detected}, with an offset: ${report.naming.offset}/${report.naming.detected}; ${(report.durationMs / 1000).toFixed(1)} s`);
  const { cuts } = report;
  if (cuts.last + cuts.synced > 0) console.log(`torn-tail cuts: ${cuts.last} of the last transaction only, ${cuts.synced} of synced transactions too (at most ${cuts.maxTransactions})`);
  let verifyOk = true;
  if (report.verify !== undefined) {
    const v = report.verify;
    for (const missed of v.missed) console.log(`verify missed: ${missed}`);
    const undamaged = Object.entries(v.undamaged).map(([image, detail]) => `${image}: ${detail}`).join('; ');
    console.log(`verify: found ${v.found}/${v.required} detected or cut states; flagged ${v.intactFlagged}/${v.intact} intact states; undamaged copies: ${undamaged}`);
    verifyOk = v.found === v.required && Object.values(v.undamaged).every((detail) => detail === 'no problems found');
  }
  if (values.json !== undefined) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(report.summary);
  return report.ok && verifyOk ? 0 : 1;
}
