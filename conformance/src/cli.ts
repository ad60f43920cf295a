#!/usr/bin/env node
/**
 * `handlerton-conformance`: runs the catalogue against an engine without any test framework,
 * prints the engine x area matrix, writes JSON / JUnit reports, exits non-zero on any failure.
 */
import { realpathSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isEnginePlugin, loadEnginePlugin, type EnginePlugin } from '@handlerton/framework';
import { CATALOGUE } from './catalogue.js';
import { harnessFromPlugin, harnessFromPluginProbed, mixedHarness, throughFramework } from './harness.js';
import { buildReport, formatMatrix, toJUnit, withClaims, type ConformanceReport } from './report.js';
import { describeError, resultFields, runCase } from './runner.js';
import { harnessMain, isHarnessKind } from './harnesses/dispatch.js';
import { pgStorageHarness } from './harnesses/postgres.js';
import { formatClaims, verifyClaims } from './harnesses/claims.js';
import { collectHarnessReports, parseHarnessKinds } from './harnesses/run-harnesses.js';
import { parseAreas, selectCases, type SelectedCase } from './selection.js';
import type { CaseResult, Harness } from './types.js';
import { SUITE_VERSION } from './version.js';

const USAGE = `usage: handlerton-conformance --engine <name|package|file> [options]
       handlerton-conformance faults|powerloss|torture|corruption --engine <name|package> [options]
                      (a fault harness; each prints its own --help)

  --engine <e>        engine to test: a built-in name (memory, filestorage2, sqlite), a package
                      exporting an EnginePlugin, or a path to a module that does; repeat it to
                      test several engines into one matrix (--json then writes an array)
                      postgres: on the server named by HANDLERTON_PG_URL (else a throwaway
                      cluster from /usr/lib/postgresql/*/bin), one schema per case
  --blobs <e>         take the blob handlerton from another engine (a mixed pair)
  --raw               test the bare engine: without the framework's RuntimeStorage in front of
                      it (the default, as applications get it), the engine must validate every
                      argument itself
  --options <json>    engine options, e.g. '{"blobMode":"transactional"}' (both engines)
  --blob-options <json>  options for the --blobs engine only
  --areas <a,b>       only these areas (default: all, or $HANDLERTON_CONFORMANCE_AREAS)
  --only <ids>        only cases whose id starts with one of these (comma-separated)
  --exclude <ids>     report these case ids as skipped ("excluded on the command line"),
                      for known failures under investigation (comma-separated)
  --json <file>       write the JSON report
  --junit <file>      write JUnit XML
  --harness <k,k>     also run these fault harnesses (faults, powerloss, torture, corruption) with
                      their default settings against the same engine; their clean runs verify the
                      claims crashSafe (torture) and durable (faults + powerloss)
  --harness-report <file>  read a harness's --json report from an earlier run (repeatable)
  --require-verified  exit 1 when a claimed crashSafe/durable capability is "claimed, not verified"
  --concurrency <n>   cases run at once (default 2)
  --timeout <ms>      per-case timeout (default 60000)
  --quiet             print only failures and the matrix
  --list              list the catalogue (id, source, requirements, contract rules, title) and exit
  --version           print the suite version`;

async function resolvePlugin(spec: string): Promise<EnginePlugin> {
  const looksLikePath = spec.startsWith('.') || isAbsolute(spec) || /\.(m?js|cjs)$/.test(spec);
  if (!looksLikePath) return loadEnginePlugin(spec);
  const mod = (await import(pathToFileURL(resolve(spec)).href)) as Record<string, unknown>;
  const plugin = mod['plugin'] ?? mod['default'];
  if (!isEnginePlugin(plugin)) throw new Error(`${spec} does not export an engine plugin (as "plugin" or default)`);
  return plugin;
}

function parseJson(text: string | undefined, flag: string): Readonly<Record<string, unknown>> | undefined {
  if (text === undefined) return undefined;
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${flag} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** Runs the CLI with `argv`; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (isHarnessKind(first)) return (await harnessMain(first))(rest);
  const { values } = parseArgs({
    args: [...argv],
    options: {
      engine: { type: 'string', multiple: true },
      blobs: { type: 'string' },
      options: { type: 'string' },
      'blob-options': { type: 'string' },
      areas: { type: 'string' },
      only: { type: 'string' },
      exclude: { type: 'string' },
      json: { type: 'string' },
      junit: { type: 'string' },
      concurrency: { type: 'string' },
      timeout: { type: 'string' },
      harness: { type: 'string', multiple: true },
      'harness-report': { type: 'string', multiple: true },
      'require-verified': { type: 'boolean' },
      raw: { type: 'boolean' },
      quiet: { type: 'boolean' },
      list: { type: 'boolean' },
      version: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (values.version === true) {
    console.log(SUITE_VERSION);
    return 0;
  }
  if (values.list === true) {
    for (const c of CATALOGUE) console.log(`${c.id}\t${c.source ?? ''}\t${c.requires.join(',')}\t${c.rule.join(' ')}\t${c.title}`);
    return 0;
  }
  if (values.engine === undefined || values.engine.length === 0) {
    console.error(USAGE);
    return 2;
  }
  const options = parseJson(values.options, '--options');
  const blobOptions = parseJson(values['blob-options'], '--blob-options') ?? options;
  const selection = selectCases({
    ...(values.areas !== undefined ? { areas: parseAreas(values.areas.split(',').map((s) => s.trim())) } : {}),
    ...(values.only !== undefined ? { only: values.only.split(',').map((s) => s.trim()) } : {}),
    ...(values.exclude !== undefined
      ? { exclude: Object.fromEntries(values.exclude.split(',').map((id) => [id.trim(), 'excluded on the command line'])) }
      : {}),
  });
  const run: RunSettings = {
    concurrency: Math.max(1, Number(values.concurrency ?? 2)),
    timeoutMs: Number(values.timeout ?? 60_000),
    quiet: values.quiet === true,
  };
  const harnessKinds = parseHarnessKinds(values.harness ?? []);
  const reports: ConformanceReport[] = [];
  for (const engine of values.engine) {
    const built = await buildHarness(engine, values.blobs, options, blobOptions);
    const { dispose } = built;
    const harness = values.raw === true ? built.harness : throughFramework(built.harness);
    if (values.engine.length > 1) console.log(`\n=== ${harness.name} ===`);
    let report: ConformanceReport;
    try {
      report = await runEngine(harness, selection, run);
    } finally {
      await dispose();
    }
    const harnessReports = await collectHarnessReports({
      kinds: harnessKinds,
      reportFiles: values['harness-report'] ?? [],
      target: { engine, ...(values.blobs !== undefined ? { blobs: values.blobs } : {}) },
      ...(values.options !== undefined ? { options: values.options } : {}),
      ...(values['blob-options'] !== undefined ? { blobOptions: values['blob-options'] } : {}),
    });
    reports.push(withClaims(report, harnessReports, verifyClaims(report.declaredCapabilities, harnessReports)));
  }
  console.log('');
  console.log(formatMatrix(reports));
  console.log('');
  console.log(formatClaims(reports.map((r) => ({ engine: r.engine, verdicts: r.claims ?? [] }))));
  for (const report of reports) {
    console.log(`\n${report.summary.pass} passed, ${report.summary.fail} failed, ${report.summary.skip} skipped (suite ${SUITE_VERSION}, engine ${report.engine})`);
  }
  if (values.json !== undefined) {
    await writeFile(values.json, JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2) + '\n');
  }
  if (values.junit !== undefined) await writeFile(values.junit, toJUnit(reports));
  const claims = reports.flatMap((r) => r.claims ?? []);
  const claimsFailed = claims.some((c) => c.status === 'failed' || (values['require-verified'] === true && c.status === 'claimed, not verified'));
  return reports.some((r) => r.summary.fail > 0) || claimsFailed ? 1 : 0;
}

/** How cases are run and printed. */
interface RunSettings {
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly quiet: boolean;
}

/** The harness for `--engine <engine>` (with `--blobs`, a mixed pair), and what to release after the run. */
async function buildHarness(
  engine: string,
  blobs: string | undefined,
  options: Readonly<Record<string, unknown>> | undefined,
  blobOptions: Readonly<Record<string, unknown>> | undefined,
): Promise<{ harness: Harness; dispose: () => Promise<void> }> {
  const storagePlugin = await resolvePlugin(engine);
  if (storagePlugin.name === 'postgres' && blobs === undefined) return postgresHarness(storagePlugin, options);
  return { harness: await buildFileHarness(storagePlugin, blobs, options, blobOptions), dispose: async () => undefined };
}

/**
 * The PostgreSQL engine on the server named by HANDLERTON_PG_URL (else a throwaway cluster from the
 * installed server binaries), each case in its own schema, dropped after it.
 */
async function postgresHarness(plugin: EnginePlugin, options: Readonly<Record<string, unknown>> | undefined): Promise<{ harness: Harness; dispose: () => Promise<void> }> {
  const { startTestServer } = await import('@handlerton/postgres/testing');
  const started = await startTestServer();
  if ('skip' in started) throw new Error(`--engine postgres needs a server: ${started.skip}`);
  const { server } = started;
  console.log(`PostgreSQL: ${server.origin === 'env' ? 'HANDLERTON_PG_URL' : 'a throwaway cluster'}, one schema per case`);
  const harness = pgStorageHarness(server, plugin, plugin, {}, options ?? {});
  return {
    harness,
    dispose: async () => {
      try {
        await harness.drained();
      } finally {
        await server.stop();
      }
    },
  };
}

/** The harness of an engine keeping its files under the case directory. */
async function buildFileHarness(
  storagePlugin: EnginePlugin,
  blobs: string | undefined,
  options: Readonly<Record<string, unknown>> | undefined,
  blobOptions: Readonly<Record<string, unknown>> | undefined,
): Promise<Harness> {
  if (blobs !== undefined) {
    const blobsPlugin = await resolvePlugin(blobs);
    const storageSide = options === undefined ? {} : { options, storageCapabilities: (await harnessFromPluginProbed(storagePlugin, { options })).storageCapabilities };
    const blobSide = blobOptions === undefined ? {} : { options: blobOptions, blobCapabilities: (await harnessFromPluginProbed(blobsPlugin, { options: blobOptions })).blobCapabilities };
    return mixedHarness(storagePlugin, blobsPlugin, { storage: storageSide, blobs: blobSide });
  }
  return options === undefined ? harnessFromPlugin(storagePlugin) : harnessFromPluginProbed(storagePlugin, { options });
}

/** Runs the selected cases against one harness, printing as it goes; returns its report. */
async function runEngine(harness: Harness, selection: readonly SelectedCase[], run: RunSettings): Promise<ConformanceReport> {
  const results: CaseResult[] = new Array<CaseResult>(selection.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < selection.length) {
      const index = next++;
      const { testCase, deselected } = selection[index]!;
      const result: CaseResult =
        deselected !== undefined
          ? { ...resultFields(testCase), status: 'skip', reason: deselected, durationMs: 0 }
          : await runCase(testCase, harness, { timeoutMs: run.timeoutMs });
      results[index] = result;
      if (result.status === 'fail') console.log(`FAIL ${result.id}: ${result.title}\n     ${result.reason ?? ''}`);
      else if (!run.quiet && result.status === 'pass') console.log(`ok   ${result.id} (${result.durationMs} ms)`);
      else if (!run.quiet && deselected === undefined) console.log(`skip ${result.id}: ${result.reason ?? ''}`);
    }
  };
  await Promise.all(Array.from({ length: run.concurrency }, worker));
  return buildReport(harness.name, { storage: harness.storageCapabilities, blobs: harness.blobCapabilities }, results);
}

function invokedAsMain(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

/** Runs the CLI for this process: arguments from process.argv, result in process.exitCode. */
export function runFromCommandLine(): void {
  // A case that timed out may still settle later; never let that kill the whole run.
  process.on('unhandledRejection', (reason) => {
    console.error(`warning: a promise rejected after its case ended: ${describeError(reason)}`);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`handlerton-conformance: ${describeError(error)}`);
      process.exitCode = 2;
    },
  );
}

if (invokedAsMain()) runFromCommandLine();
