/** `handlerton-conformance torture --engine <e> --cycles N [--seed S]`: the torture loop from the command line. */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isHandlertonError } from '@handlerton/framework';
import { assertDurableTarget, TARGET_ARGS, targetFromArgs } from '../harnesses/target.js';
import { formatTortureCycle, formatTortureDetails } from './format.js';
import { runTorture, type TortureOptions } from './loop.js';

const USAGE = `usage: handlerton-conformance torture --engine <name|package> --cycles N [options]

  --engine <e>          engine under test (built-in name or package exporting an EnginePlugin)
  --blobs <e>           blob handlerton from another engine (a mixed pair, e.g. --engine filestorage2 --blobs sqlite)
  --options <json>      engine options; --blob-options <json> for the --blobs engine only
  --cycles <n>          kill/recover cycles (required)
  --seed <s>            seed of the workload and kill schedule (default random; printed, replays a failure)
  --min-kill-ms <ms>    shortest delay from the trigger to the kill (default 20)
  --max-kill-ms <ms>    longest delay from the trigger to the kill (default 600)
  --pack-cycle-every <n>  every n-th cycle runs a pack to its end, then is killed (every second one:
                        killed right before one of the pack's last file operations); 0: none (default 8)
  --max-committers <n>  most concurrent committers per writer, 1..32 (default 32)
  --max-blob-bytes <n>  largest blob (default 4194304)
  --dir <path>          where the temporary database directory is made (default the OS temp dir)
  --keep                keep the database directory when a violation is found
  --preload <module>    module the writer and the parent import first (repeatable)
  --json <file>         write the HarnessReport as JSON
  --quiet               no per-cycle progress lines
  --help                this text

Last line: torture: engine=<name> cycles=N acknowledged=N lost=0 partial=0 failed_opens=0 packs=N killed_in_pack=N seed=S
Exit code: 0 when every invariant held, 1 on violations, 2 on bad usage.`;

/** Runs the torture harness CLI with `argv`; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let options: TortureOptions;
  let json: string | undefined;
  let quiet: boolean;
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        ...TARGET_ARGS,
        cycles: { type: 'string' },
        seed: { type: 'string' },
        'min-kill-ms': { type: 'string' },
        'max-kill-ms': { type: 'string' },
        'max-committers': { type: 'string' },
        'pack-cycle-every': { type: 'string' },
        'max-blob-bytes': { type: 'string' },
        dir: { type: 'string' },
        keep: { type: 'boolean' },
        preload: { type: 'string', multiple: true },
        json: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
    });
    if (values.help === true) {
      console.log(USAGE);
      return 0;
    }
    if (values.cycles === undefined) throw new UsageError('--cycles is required');
    const target = targetFromArgs(values);
    const seed = integer(values.seed, 'seed');
    const minKillMs = integer(values['min-kill-ms'], 'min-kill-ms');
    const maxKillMs = integer(values['max-kill-ms'], 'max-kill-ms');
    const maxCommitters = integer(values['max-committers'], 'max-committers');
    const maxBlobBytes = integer(values['max-blob-bytes'], 'max-blob-bytes');
    const packCycleEvery = integer(values['pack-cycle-every'], 'pack-cycle-every');
    options = {
      target,
      cycles: integer(values.cycles, 'cycles') ?? 0,
      ...(seed !== undefined ? { seed } : {}),
      ...(minKillMs !== undefined ? { minKillMs } : {}),
      ...(maxKillMs !== undefined ? { maxKillMs } : {}),
      ...(maxCommitters !== undefined ? { maxCommitters } : {}),
      ...(maxBlobBytes !== undefined ? { maxBlobBytes } : {}),
      ...(packCycleEvery !== undefined ? { packCycleEvery } : {}),
      ...(values.dir !== undefined ? { dir: values.dir } : {}),
      ...(values.preload !== undefined ? { preload: values.preload } : {}),
      keepOnFailure: values.keep === true,
    };
    json = values.json;
    quiet = values.quiet === true;
  } catch (error) {
    console.error(`handlerton-conformance torture: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  const total = options.cycles;
  let report;
  try {
    await assertDurableTarget(options.target);
    report = await runTorture({ ...options, onCycle: (cycle) => (quiet ? undefined : console.log(formatTortureCycle(cycle, total))) });
  } catch (error) {
    if (isHandlertonError(error, 'HANDLERTON_INVALID_ARGUMENT')) {
      console.error(`handlerton-conformance torture: ${error.message}`);
      return 2;
    }
    throw error;
  }
  console.log(formatTortureDetails(report.details));
  for (const violation of report.violations.slice(0, 20)) console.log(`VIOLATION ${violation.message} (replay: --seed ${report.seed})`);
  if (!report.ok) console.log(`FAILED: replay with --seed ${report.seed}${report.notVerified === undefined ? '' : ` (${report.notVerified})`}`);
  if (json !== undefined) await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(report.summary);
  return report.ok ? 0 : 1;
}

class UsageError extends Error {}

function integer(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`--${flag} must be a non-negative integer, got ${JSON.stringify(text)}`);
  return Number(text);
}
