#!/usr/bin/env node
/** The `handlerton` command line: demo, engines, info, stats, verify, history, log, blob put/get/ls, backup, restore, pack, gc, copy, serve. */
import 'reflect-metadata';
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { BUILT_IN_ENGINES } from '../config/engine-loader.js';
import { loadEnginePlugin } from '../di/root-container.js';
import { openDatabase } from '../di/open-database.js';
import { copyTransactions, type CopyResult } from '../database/copy-transactions.js';
import { startPhaseProgress, startProgress } from './progress.js';
import { InvalidArgumentError } from '../contracts/errors.js';
import type { Database, GcProgress, GcResult } from '../contracts/database.js';
import type { DatabasePackResult } from '../contracts/records.js';
import { runDemo } from './demo.js';
import { parseDuration } from './duration.js';
import { copyReport, gcReport, infoReport, packReport, verifyReport, printReport, type Report } from './output.js';
import { inspectTarget, parseTarget } from './target.js';
import { openNamedDatabase } from './default-database.js';
import { EXIT, reportFailure } from './exit.js';
import { verifyAll, type VerifyResult } from './verify.js';
import { registerHistoryCommands } from './commands/history.js';
import { registerStatsCommand } from './commands/stats.js';
import { registerBlobCommands } from './commands/blob.js';
import { registerBackupCommands } from './commands/backup.js';
import { registerServeCommand } from './commands/serve.js';

/** The embedded default engine of `npm start`. */
export const DEFAULT_DEMO_CONFIG = 'filestorage2:./.handlerton-demo';

const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const program = new Command('handlerton')
  .description('handlerton: pluggable storage engines')
  .version(version, '-V, --version', 'print the version')
  .option('--json', 'print one JSON document instead of readable lines')
  .option('--verbose', 'print the stack trace of an error')
  .showHelpAfterError()
  .exitOverride()
  .addHelpText('after', '\nExit codes: 0 success, 1 the operation failed, 2 bad usage or input (unknown option, bad config, database not found).');
const print = (line: string): void => void process.stdout.write(line + '\n');
/** True when progress must stay off: --json (scripts) — and, inside startProgress, whenever stderr is not a terminal. */
const quiet = (): boolean => program.opts<{ json?: boolean }>().json === true;
const output = (report: Report): void => printReport(report, program.opts<{ json?: boolean }>().json === true, print);

program
  .command('demo')
  .description('store records and a blob, read them back in a snapshot, print what happened')
  .argument('[config]', 'engine config, e.g. "memory:" or "sqlite:./demo.db"', DEFAULT_DEMO_CONFIG)
  .action(async (config: string) => runDemo(parseTarget(config), print));

program
  .command('engines')
  .description('list the built-in engines and their capability flags')
  .action(async () => {
    const json: unknown[] = [];
    const lines: string[] = [];
    for (const name of new Set(Object.values(BUILT_IN_ENGINES))) {
      try {
        const plugin = await loadEnginePlugin(name);
        const storage = plugin.storageCapabilities ? Object.entries(plugin.storageCapabilities).filter(([, v]) => v).map(([k]) => k).join(',') : '-';
        const blobs = plugin.blobCapabilities ? `${plugin.blobCapabilities.mode}:` + Object.entries(plugin.blobCapabilities).filter(([, v]) => v === true).map(([k]) => k).join(',') : '-';
        json.push({ name: plugin.name, package: name, description: plugin.description, storageCapabilities: plugin.storageCapabilities ?? null, blobCapabilities: plugin.blobCapabilities ?? null });
        lines.push(`${plugin.name.padEnd(14)} ${plugin.description}`, `${''.padEnd(14)} storage: ${storage}`, `${''.padEnd(14)} blobs:   ${blobs}`);
      } catch (error) {
        json.push({ package: name, unavailable: (error as Error).message });
        lines.push(`${name.padEnd(14)} unavailable: ${(error as Error).message}`);
      }
    }
    output({ json, lines });
  });

program
  .command('info')
  .description('open a database and print its engines, capabilities and last transaction')
  .argument('[config]', 'engine config (default: $HANDLERTON_DB, then handlerton.json)')
  .action(async (named: string | undefined) => {
    const { db } = await openNamedDatabase(named, 'inspect');
    try {
      output(infoReport(db.engines, db.capabilities, db.lastTransaction()));
    } finally {
      await db.close();
    }
  });

registerStatsCommand(program, output);

program
  .command('verify')
  .description('run the engines\' own checks (checksums, indexes, tails, refcounts) and read every transaction, record and blob revision and check references resolve (read-only); exit 1 on any problem')
  .argument('[config]', 'engine config or path of an existing database (default: $HANDLERTON_DB, then handlerton.json)')
  .action(async (named: string | undefined) => {
    const { db } = await openNamedDatabase(named, 'inspect');
    try {
      const progress = startPhaseProgress('verify', { quiet: quiet() });
      let result: VerifyResult;
      try {
        result = await verifyAll(db, (checked) => progress.update('reading', checked, 'transactions'), {
          progress: (what, done) => progress.update('engine checks', done, what),
        });
      } finally {
        progress.stop();
      }
      output(verifyReport(result));
      if (result.problems.length > 0) process.exitCode = EXIT.failed;
    } finally {
      await db.close();
    }
  });

registerHistoryCommands(program, output);
registerBlobCommands(program, output, quiet);
registerBackupCommands(program, output, quiet);
registerServeCommand(program, output, (line) => void process.stderr.write(line + '\n'));

program
  .command('pack')
  .description('drop revisions older than the pack time and reclaim unreferenced blobs')
  .argument('[config]', 'engine config (default: $HANDLERTON_DB, then handlerton.json)')
  .option('--before <iso-date>', 'pack time (default: now)')
  .action(async (named: string | undefined, options: { before?: string }) => {
    const at = options.before === undefined ? undefined : new Date(options.before);
    if (at !== undefined && Number.isNaN(at.getTime())) throw new InvalidArgumentError(`--before "${options.before}" is not a date`);
    const { db } = await openNamedDatabase(named, 'write');
    try {
      output(packReport(await packWithProgress(db, at)));
    } finally {
      await db.close();
    }
  });

program
  .command('gc')
  .description('external garbage collection: delete every object unreachable from the root and older than the safety window (then pack)')
  .argument('[config]', 'engine config (default: $HANDLERTON_DB, then handlerton.json)')
  .option('--no-pack', 'only write delete markers; do not pack afterwards')
  .option('--dry-run', 'report what would be deleted; change nothing (no pack)')
  .option('--keep <duration>', 'safety window: keep objects written or referenced within it (1h, 30m, 0, or milliseconds)', '1h')
  .action(async (named: string | undefined, options: { pack: boolean; dryRun?: boolean; keep: string }) => {
    const keep = parseDuration(options.keep, '--keep');
    const { db } = await openNamedDatabase(named, 'write');
    try {
      const progress = startPhaseProgress('gc', { quiet: quiet() });
      let gc: GcResult;
      try {
        gc = await db.collectGarbage({ keep, dryRun: options.dryRun === true, onProgress: (p) => progress.update(p.phase, p.done, GC_UNITS[p.phase] + (p.deleted > 0 ? `, ${p.deleted} deleted` : '')) });
      } finally {
        progress.stop();
      }
      const packed = options.pack && !gc.dryRun ? await packWithProgress(db) : undefined;
      output(gcReport(gc, packed));
    } finally {
      await db.close();
    }
  });

program
  .command('copy')
  .description('copy every transaction, with blobs, from one database into an empty one (backup, engine migration); --incremental continues a previous copy')
  .argument('<from>', 'source engine config')
  .argument('<to>', 'destination engine config (must be empty, or a previous copy with --incremental)')
  .option('--incremental', "copy only the transactions after the destination's last one (which must be the source's)")
  .action(async (from: string, to: string, options: { incremental?: boolean }) => {
    const source = await openDatabase(inspectTarget(parseTarget(from)));
    try {
      const destination = await openDatabase(parseTarget(to));
      try {
        const progress = startProgress('copy', 'transactions', { quiet: quiet() });
        let result: CopyResult;
        try {
          result = await copyTransactions(source, destination, { incremental: options.incremental === true, onTransaction: (_tid, copied) => progress.update(copied) });
        } finally {
          progress.stop();
        }
        output(copyReport(result));
      } finally {
        await destination.close();
      }
    } finally {
      await source.close();
    }
  });

/** What the count of each gc phase counts. */
const GC_UNITS: Readonly<Record<GcProgress['phase'], string>> = { replay: 'transactions read', mark: 'objects loaded', sweep: 'objects checked' };

/** Packs with a phase display on stderr (a terminal only). */
async function packWithProgress(db: Database, at?: Date): Promise<DatabasePackResult> {
  const progress = startPhaseProgress('pack', { quiet: quiet() });
  try {
    return await db.pack(at, { onProgress: (p) => progress.update(p.phase === 'records' ? 'packing records' : 'reclaiming blobs', p.blobRefsReleased, 'blob references released') });
  } finally {
    progress.stop();
  }
}

// A reader that went away (`handlerton log db | head`): the command finishes its work (and closes the
// database) with its output discarded, instead of dying on an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  });
}

let finished = false;
// A command whose work waits on something that can never happen would otherwise end silently with exit 0.
process.once('beforeExit', () => {
  if (finished) return;
  process.stderr.write('handlerton: internal error: the command stopped before it finished (nothing left to wait for)\n');
  process.exitCode = EXIT.failed;
});
program
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.exitCode = reportFailure(error, program.opts<{ verbose?: boolean }>().verbose === true, (line) => void process.stderr.write(line + '\n'));
  })
  .finally(() => (finished = true));
