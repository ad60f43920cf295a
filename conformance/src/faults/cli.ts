/** `handlerton-conformance faults --engine <e> [--blobs <b>] ...`: the I/O fault sweep from the command line. */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isHandlertonError } from '@handlerton/framework';
import { TARGET_ARGS } from '../harnesses/target.js';
import type { FaultMode } from './faulty-fs.js';
import { runFaultSweep, type FaultMechanism } from './run-fault-sweep.js';

const HELP = `usage: handlerton-conformance faults --engine <name> [--blobs <name>] [options]

Runs a short workload (commits with records and blobs, a seal, a pack, GC, close and reopen) once
to count its file operations, then once per operation N with operation N failing, and checks after
each run: the error is typed, no acknowledged transaction is lost or changed, none is half applied,
the database reopens on a healthy disk, and a failed fsync makes the open database refuse writes.

  --engine <name>          storage engine (built-in name or package)          (required)
  --blobs <name>           blob engine of a mixed pair
  --options <json>         storage engine options (filestorage2 default: {"segmentSize":4096})
  --blob-options <json>    blob engine options
  --mechanism fs|strace|both   where to inject (default: both for sqlite, else fs)
  --modes EIO,ENOSPC,short     injected-fs fault modes (default all three)
  --stride <n>             injected fs: every n-th operation (default 1)
  --from <n> --to <n>      injected fs: operation range
  --syscalls <list>        strace: syscalls (default fdatasync,fsync,pwrite64,write,rename,unlink,openat,ftruncate)
  --errnos <list>          strace: errors (default EIO,ENOSPC)
  --native-stride <n>      strace: every n-th call (default 1)
  --samples <n>            strace: at most n runs per syscall and errno
  --timeout-ms <n>         one run longer than this is a hang (default 60000 in process, 120000 strace)
  --preload <module>       import before opening (third-party plugin registration); repeatable
  --json <file>            write the HarnessReport as JSON
  --quiet                  no line per run
  --help

The last line printed is the summary:
  faults: engine=<name> ops=N lost=0 partial=0 untyped=0 unopenable=0 unrefused=0 hangs=0 runs=N ...
Exit 0 when every count is zero, 1 on violations (or when the engine could not be verified), 2 on bad usage.`;

function positive(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new UsageError(`--${flag} must be a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

class UsageError extends Error {}

function list(text: string | undefined): string[] | undefined {
  return text === undefined ? undefined : text.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

/** Runs the faults harness CLI with `argv`; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        ...TARGET_ARGS,
        mechanism: { type: 'string' },
        modes: { type: 'string' },
        stride: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        syscalls: { type: 'string' },
        errnos: { type: 'string' },
        'native-stride': { type: 'string' },
        samples: { type: 'string' },
        'timeout-ms': { type: 'string' },
        preload: { type: 'string', multiple: true },
        json: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    console.error(`handlerton-conformance faults: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const values = parsed.values;
  if (values.help === true) {
    console.log(HELP);
    return 0;
  }
  let report;
  try {
    if (values.engine === undefined) throw new UsageError('--engine is required');
    const mechanism = values.mechanism as FaultMechanism | undefined;
    if (mechanism !== undefined && !['fs', 'strace', 'both'].includes(mechanism)) throw new UsageError(`--mechanism must be fs, strace or both, got ${JSON.stringify(mechanism)}`);
    const options = values.options === undefined ? undefined : (JSON.parse(values.options) as Record<string, unknown>);
    const blobOptions = values['blob-options'] === undefined ? undefined : (JSON.parse(values['blob-options']) as Record<string, unknown>);
    const stride = positive(values.stride, 'stride');
    const from = positive(values.from, 'from');
    const to = positive(values.to, 'to');
    const nativeStride = positive(values['native-stride'], 'native-stride');
    const samples = positive(values.samples, 'samples');
    const timeout = positive(values['timeout-ms'], 'timeout-ms');
    const modes = list(values.modes) as FaultMode[] | undefined;
    const syscalls = list(values.syscalls);
    const errnos = list(values.errnos);
    const quiet = values.quiet === true;
    report = await runFaultSweep({
      target: { engine: values.engine, ...(values.blobs !== undefined ? { blobs: values.blobs } : {}), ...(options !== undefined ? { options } : {}), ...(blobOptions !== undefined ? { blobOptions } : {}) },
      ...(mechanism !== undefined ? { mechanism } : {}),
      ...(modes !== undefined ? { modes } : {}),
      ...(stride !== undefined ? { stride } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      ...(syscalls !== undefined ? { syscalls } : {}),
      ...(errnos !== undefined ? { errnos } : {}),
      ...(nativeStride !== undefined ? { nativeStride } : {}),
      ...(samples !== undefined ? { samplesPerSyscall: samples } : {}),
      ...(timeout !== undefined ? { runTimeoutMs: timeout } : {}),
      ...(values.preload !== undefined ? { preload: values.preload } : {}),
      onRun: (line) => {
        if (!quiet || line.includes('VIOLATION') || line.includes('HANG')) console.log(line);
      },
    });
  } catch (error) {
    if (error instanceof UsageError || error instanceof SyntaxError || isHandlertonError(error, 'HANDLERTON_INVALID_ARGUMENT')) {
      console.error(`handlerton-conformance faults: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }
  if (values.json !== undefined) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  for (const violation of report.violations.slice(0, 50)) console.log(`violation: ${violation.message}`);
  if (report.notVerified !== undefined) console.log(`not verified: ${report.notVerified}`);
  console.log(`duration: ${(report.durationMs / 1000).toFixed(1)} s`);
  console.log(report.summary);
  return report.ok ? 0 : 1;
}
