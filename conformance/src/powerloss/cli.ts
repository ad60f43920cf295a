/** `handlerton-conformance powerloss --engine <e> [--mode drop|torn|reorder|all] [--seed S]`: the simulated power-loss harness. */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@handlerton/framework';
import { TARGET_ARGS, targetFromArgs } from '../harnesses/target.js';
import { CRASH_MODES, type CrashMode } from './crash-states.js';
import { runPowerLoss } from './run-powerloss.js';

const USAGE = `usage: handlerton-conformance powerloss --engine <name|package> [options]

Runs small workloads under a crash-recording file layer, rebuilds the files a power cut could
leave at every crash point (after each mutation) and checks each state: acknowledged transactions
present byte for byte, all or nothing per transaction, the database opens, recovery is stable.
Only engines whose file I/O goes through the injected fs can be tested this way.

  --engine <e>          engine under test (a built-in name or an installed package)
  --blobs <e>           blob handlerton from another engine (a mixed pair)
  --options <json>      engine options;  --blob-options <json>  options of the --blobs engine
  --mode <m>            drop | torn | reorder | all (default all)
  --seed <n>            seed of the torn / reorder choices (default random, printed)
  --workloads <a,b>     commits, group-commit, seal, pack, blobs, recovery (default all)
  --max-points <n>      at most n crash points per recorded run, evenly spaced (default every one)
  --variants <n>        torn / reorder states per crash point, each with its own seed (default 1)
  --recovery-bases <n>  crashed states per source workload whose recovery is crashed again (default 2)
  --seal-options <json> engine options that make a segment seal after a few KiB
                        (default for filestorage2: {"segmentSize":4096})
  --keep                keep the temporary directory when a violation is found
  --json <file>         write the HarnessReport as JSON
  --quiet               no progress lines

Prints 'powerloss: engine=<e> states=N lost=0 partial=0 unopenable=0 ...' last; exit 0 when all
counts are zero, 1 on violations, 2 on bad usage.`;

/** Runs the powerloss harness CLI with `argv`; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        ...TARGET_ARGS,
        mode: { type: 'string' },
        seed: { type: 'string' },
        workloads: { type: 'string' },
        'max-points': { type: 'string' },
        'recovery-bases': { type: 'string' },
        variants: { type: 'string' },
        'seal-options': { type: 'string' },
        keep: { type: 'boolean' },
        json: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  let options;
  try {
    const target = targetFromArgs(values);
    const spec = {
      engine: target.storageEngine,
      ...(target.blobEngine !== target.storageEngine ? { blobs: target.blobEngine } : {}),
      ...(values.options !== undefined ? { options: jsonObject(values.options, 'options') } : {}),
      ...(values['blob-options'] !== undefined ? { blobOptions: jsonObject(values['blob-options'], 'blob-options') } : {}),
    };
    options = {
      target: spec,
      modes: parseModes(values.mode),
      ...(values.seed !== undefined ? { seed: integer(values.seed, 'seed', 0) } : {}),
      ...(values.workloads !== undefined ? { workloads: values.workloads.split(',').map((w) => w.trim()).filter((w) => w !== '') } : {}),
      ...(values['max-points'] !== undefined ? { maxPoints: integer(values['max-points'], 'max-points', 2) } : {}),
      ...(values.variants !== undefined ? { variants: integer(values.variants, 'variants', 1) } : {}),
      ...(values['recovery-bases'] !== undefined ? { recoveryBases: integer(values['recovery-bases'], 'recovery-bases', 0) } : {}),
      ...(values['seal-options'] !== undefined ? { sealOptions: jsonObject(values['seal-options'], 'seal-options') } : {}),
      keepOnFailure: values.keep === true,
      ...(values.quiet === true ? {} : { onProgress: (line: string) => console.log(line) }),
    };
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  let report;
  try {
    report = await runPowerLoss(options);
  } catch (error) {
    if (error instanceof InvalidArgumentError) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  for (const violation of report.violations) console.log(`violation: ${violation.message}  replay: ${JSON.stringify(violation.replay ?? {})}`);
  if (values.json !== undefined) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`powerloss: ${report.durationMs} ms`);
  console.log(report.summary);
  return report.ok ? 0 : 1;
}

function parseModes(text: string | undefined): CrashMode[] {
  if (text === undefined || text === 'all') return [...CRASH_MODES];
  const modes = text.split(',').map((m) => m.trim());
  for (const mode of modes) if (!(CRASH_MODES as readonly string[]).includes(mode)) throw new InvalidArgumentError(`--mode must be drop, torn, reorder or all, got ${JSON.stringify(mode)}`);
  return modes as CrashMode[];
}

function integer(text: string, flag: string, min: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) throw new InvalidArgumentError(`--${flag} must be an integer of at least ${min}, got ${JSON.stringify(text)}`);
  return value;
}

function jsonObject(text: string, flag: string): Readonly<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`--${flag} is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError(`--${flag} must be a JSON object`);
  return value as Record<string, unknown>;
}
