/** Runs the fault harnesses a conformance invocation asked for, and reads earlier harness reports from files. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@handlerton/framework';
import { harnessMain, isHarnessKind } from './dispatch.js';
import { HARNESS_KINDS, type HarnessKind, type HarnessReport } from './harness-report.js';
import { harnessTarget, type TargetSpec } from './target.js';

/** Settings of a harness run from the catalogue CLI: short runs, like the ones in this repository's `npm test`. */
const DEFAULT_ARGS: Readonly<Record<HarnessKind, readonly string[]>> = {
  faults: ['--quiet'],
  powerloss: ['--quiet'],
  torture: ['--cycles', '25', '--quiet'],
  corruption: [],
};

/** The harness kinds of `--harness a,b --harness c`; InvalidArgumentError naming an unknown one. */
export function parseHarnessKinds(values: readonly string[]): HarnessKind[] {
  const kinds: HarnessKind[] = [];
  for (const word of values.flatMap((v) => v.split(',')).map((w) => w.trim()).filter((w) => w !== '')) {
    if (!isHarnessKind(word)) throw new InvalidArgumentError(`--harness: unknown harness "${word}" (one of ${HARNESS_KINDS.join(', ')})`);
    if (!kinds.includes(word)) kinds.push(word);
  }
  return kinds;
}

/** What collectHarnessReports runs and reads. */
export interface HarnessRunRequest {
  readonly kinds: readonly HarnessKind[];
  readonly reportFiles: readonly string[];
  readonly target: Pick<TargetSpec, 'engine' | 'blobs'>;
  /** `--options` / `--blob-options` as given on the command line (JSON text). */
  readonly options?: string;
  readonly blobOptions?: string;
}

/** Runs each requested harness against the target (default settings) and adds the reports read from files for the same target. */
export async function collectHarnessReports(request: HarnessRunRequest): Promise<HarnessReport[]> {
  const label = harnessTarget(request.target).label;
  const reports: HarnessReport[] = [];
  for (const file of request.reportFiles) {
    const report = await readHarnessReport(file);
    if (report.engine === label) reports.push(report);
  }
  if (request.kinds.length === 0) return reports;
  const dir = await mkdtemp(join(tmpdir(), 'handlerton-harness-'));
  try {
    for (const kind of request.kinds) {
      const json = join(dir, `${kind}.json`);
      const argv = ['--engine', request.target.engine];
      if (request.target.blobs !== undefined) argv.push('--blobs', request.target.blobs);
      if (request.options !== undefined) argv.push('--options', request.options);
      if (request.blobOptions !== undefined) argv.push('--blob-options', request.blobOptions);
      console.log(`\n=== harness ${kind} (${label}) ===`);
      const code = await (await harnessMain(kind))([...argv, ...DEFAULT_ARGS[kind], '--json', json]);
      const report = await readHarnessReport(json).catch(() => undefined);
      reports.push(report ?? notRun(kind, label, `the harness exited with ${code} without a report`));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return reports;
}

/** Reads and shape-checks a HarnessReport written with `--json`. */
export async function readHarnessReport(file: string): Promise<HarnessReport> {
  const value: unknown = JSON.parse(await readFile(file, 'utf8'));
  if (!isHarnessReport(value)) throw new InvalidArgumentError(`--harness-report ${file} is not a harness report (need harness, engine, ok, counts, summary, violations)`);
  return value;
}

function isHarnessReport(value: unknown): value is HarnessReport {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    isHarnessKind(typeof r['harness'] === 'string' ? r['harness'] : undefined) &&
    typeof r['engine'] === 'string' &&
    typeof r['ok'] === 'boolean' &&
    typeof r['counts'] === 'object' &&
    typeof r['summary'] === 'string' &&
    Array.isArray(r['violations'])
  );
}

function notRun(harness: HarnessKind, engine: string, reason: string): HarnessReport {
  return { harness, engine, ok: false, counts: {}, summary: `${harness}: engine=${engine} not run`, violations: [], durationMs: 0, notVerified: reason };
}
