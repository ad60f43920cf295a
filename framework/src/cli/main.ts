#!/usr/bin/env node
/** The `handlerton` command line: demo, engines, info, pack, gc, copy. */
import 'reflect-metadata';
import { Command } from 'commander';
import { InvalidConfigError, isHandlertonError } from '../contracts/errors.js';
import type { DatabaseConfig } from '../config/database-config.js';
import { toHex, tidToDate } from '../contracts/ids.js';
import { BUILT_IN_ENGINES } from '../config/engine-loader.js';
import { loadEnginePlugin } from '../di/root-container.js';
import { openDatabase } from '../di/open-database.js';
import { copyTransactions } from '../database/copy-transactions.js';
import { runDemo } from './demo.js';
import { parseDuration } from './duration.js';

/** The embedded default engine of `npm start`. */
export const DEFAULT_DEMO_CONFIG = 'filestorage2:./.handlerton-demo';

/** A config argument: "engine:path", or a JSON object for mixed engines. */
function cliConfig(text: string): DatabaseConfig {
  if (!text.trimStart().startsWith('{')) return text;
  try {
    return JSON.parse(text) as DatabaseConfig;
  } catch (error) {
    throw new InvalidConfigError(`config "${text}" is neither "engine:path" nor valid JSON`, '', { cause: error });
  }
}

const program = new Command('handlerton').description('handlerton: pluggable storage engines').showHelpAfterError();
const print = (line: string): void => void process.stdout.write(line + '\n');

program
  .command('demo')
  .description('store records and a blob, read them back in a snapshot, print what happened')
  .argument('[config]', 'engine config, e.g. "memory:" or "sqlite:./demo.db"', DEFAULT_DEMO_CONFIG)
  .action(async (config: string) => runDemo(cliConfig(config), print));

program
  .command('engines')
  .description('list the built-in engines and their capability flags')
  .action(async () => {
    for (const name of new Set(Object.values(BUILT_IN_ENGINES))) {
      try {
        const plugin = await loadEnginePlugin(name);
        const storage = plugin.storageCapabilities ? Object.entries(plugin.storageCapabilities).filter(([, v]) => v).map(([k]) => k).join(',') : '-';
        const blobs = plugin.blobCapabilities ? `${plugin.blobCapabilities.mode}:` + Object.entries(plugin.blobCapabilities).filter(([, v]) => v === true).map(([k]) => k).join(',') : '-';
        print(`${plugin.name.padEnd(14)} ${plugin.description}\n${''.padEnd(14)} storage: ${storage}\n${''.padEnd(14)} blobs:   ${blobs}`);
      } catch (error) {
        print(`${name.padEnd(14)} unavailable: ${(error as Error).message}`);
      }
    }
  });

program
  .command('info')
  .description('open a database and print its engines, capabilities and last transaction')
  .argument('<config>', 'engine config')
  .action(async (config: string) => {
    const db = await openDatabase(cliConfig(config));
    try {
      const last = db.lastTransaction();
      print(JSON.stringify({ engines: db.engines, capabilities: db.capabilities, lastTransaction: toHex(last), lastCommit: last === 0n ? null : tidToDate(last).toISOString() }, null, 2));
    } finally {
      await db.close();
    }
  });

program
  .command('pack')
  .description('drop revisions older than the pack time and reclaim unreferenced blobs')
  .argument('<config>', 'engine config')
  .option('--before <iso-date>', 'pack time (default: now)')
  .action(async (config: string, options: { before?: string }) => {
    const at = options.before === undefined ? undefined : new Date(options.before);
    if (at !== undefined && Number.isNaN(at.getTime())) throw new TypeError(`--before "${options.before}" is not a date`);
    const db = await openDatabase(cliConfig(config));
    try {
      print(JSON.stringify(await db.pack(at)));
    } finally {
      await db.close();
    }
  });

program
  .command('gc')
  .description('external garbage collection: delete every object unreachable from the root and older than the safety window (then pack)')
  .argument('<config>', 'engine config')
  .option('--no-pack', 'only write delete markers; do not pack afterwards')
  .option('--dry-run', 'report what would be deleted; change nothing (no pack)')
  .option('--keep <duration>', 'safety window: keep objects written or referenced within it (1h, 30m, 0, or milliseconds)', '1h')
  .action(async (config: string, options: { pack: boolean; dryRun?: boolean; keep: string }) => {
    const keep = parseDuration(options.keep, '--keep');
    const db = await openDatabase(cliConfig(config));
    try {
      const gc = await db.collectGarbage({ keep, dryRun: options.dryRun === true });
      const packed = options.pack && !gc.dryRun ? await db.pack() : undefined;
      print(JSON.stringify({ ...gc, oids: gc.oids.map(toHex), ...(packed ? { packed } : {}) }));
    } finally {
      await db.close();
    }
  });

program
  .command('copy')
  .description('copy every transaction, with blobs, from one database into an empty one (backup, engine migration)')
  .argument('<from>', 'source engine config')
  .argument('<to>', 'destination engine config (must be empty)')
  .action(async (from: string, to: string) => {
    const source = await openDatabase(cliConfig(from));
    try {
      const destination = await openDatabase(cliConfig(to));
      try {
        const result = await copyTransactions(source, destination);
        print(JSON.stringify(result));
      } finally {
        await destination.close();
      }
    } finally {
      await source.close();
    }
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  const code = isHandlertonError(error) ? ` [${error.code}]` : '';
  process.stderr.write(`handlerton: ${(error as Error).message}${code}\n`);
  process.exitCode = 1;
});
