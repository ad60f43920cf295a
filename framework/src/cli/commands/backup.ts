/** `handlerton backup <db> <dir>` and `handlerton restore <dir> <db> [--at]`: online, incremental, verified backups. */
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { writeBackup, type BackupResult } from '../../backup/backup-writer.js';
import { BackupSource, listBackups, verifyBackupFile } from '../../backup/backup-reader.js';
import { DatabaseNotFoundError, InvalidArgumentError } from '../../contracts/errors.js';
import { tidFromMillis, tidToDate, toHex, type Tid } from '../../contracts/ids.js';
import { copyTransactions, type CopyResult } from '../../database/copy-transactions.js';
import { openDatabase } from '../../di/open-database.js';
import { parseHexId } from '../ids-arg.js';
import type { Report } from '../output.js';
import { startProgress } from '../progress.js';
import { inspectTarget, parseTarget } from '../target.js';
import { verifyDatabase, type VerifyResult } from '../verify.js';
import type { Output } from './history.js';

/** Registers `backup` and `restore`. */
export function registerBackupCommands(program: Command, output: Output, quiet: () => boolean): void {
  program
    .command('backup')
    .description('back up a database (also while it is in use) into a directory: full the first time, then only what is new; each file is checked after writing')
    .argument('<config>', 'engine config or path of an existing database')
    .argument('<dir>', 'backup directory (created when missing)')
    .action(async (config: string, dir: string) => {
      const db = await openDatabase(inspectTarget(parseTarget(config)));
      const progress = startProgress('backup', 'transactions', { quiet: quiet() });
      try {
        output(backupReport(await writeBackup(db, dir, (done) => progress.update(done))));
      } finally {
        progress.stop();
        await db.close();
      }
    });

  program
    .command('restore')
    .description('restore the backups of a directory into a new, empty database (as of --at, default the last backup), then verify it')
    .argument('<dir>', 'backup directory')
    .argument('<config>', 'engine config of the database to create (must be empty)')
    .option('--at <tid|time>', 'restore the state as of this tid (hex) or ISO time')
    .action(async (dir: string, config: string, options: { at?: string }) => {
      const stop = options.at === undefined ? undefined : parseRestorePoint(options.at);
      if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) throw new DatabaseNotFoundError(`no backup directory at ${dir}`);
      const files = await listBackups(dir);
      if (files.length === 0) throw new DatabaseNotFoundError(`${dir} holds no backup files`);
      for (const file of files) await verifyBackupFile(file.path);
      const source = new BackupSource(files);
      const destination = await openDatabase(parseTarget(config));
      const progress = startProgress('restore', 'transactions', { quiet: quiet() });
      try {
        let copied: CopyResult;
        try {
          copied = await copyTransactions(source, destination, { ...(stop === undefined ? {} : { stop }), onTransaction: (_tid, done) => progress.update(done) });
        } finally {
          progress.stop();
        }
        const verified = await verifyDatabase(destination);
        output(restoreReport(copied, destination.lastTransaction(), source.lastTransaction, verified));
        if (verified.problems.length > 0) process.exitCode = 1;
      } finally {
        await destination.close();
      }
    });
}

/** `--at`: a hex tid (inclusive), or an ISO time (every transaction committed in or before that millisecond). */
function parseRestorePoint(text: string): Tid {
  if (/^\s*(?:0x)?[0-9a-fA-F]{1,16}\s*$/.test(text)) return parseHexId(text, '--at');
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`--at "${text}" is neither a hex tid nor an ISO time`);
  return tidFromMillis(ms + 1) - 1n;
}

function backupReport(result: BackupResult): Report {
  const json = { ...result, from: toHex(result.from), to: toHex(result.to) };
  if (result.file === null) return { json, lines: [`up to date: nothing committed since the last backup (${toHex(result.to)})`] };
  return {
    json,
    lines: [
      `${result.full ? 'full' : 'incremental'} backup: ${result.transactions} transactions, ${result.blobRevisions} blob revisions, ${result.bytes} bytes`,
      `written and checked: ${result.file} (up to ${toHex(result.to)} at ${tidToDate(result.to).toISOString()})`,
    ],
  };
}

function restoreReport(copied: CopyResult, last: Tid, backedUp: Tid, verified: VerifyResult): Report {
  const json = { transactions: copied.transactions, records: copied.records, blobRevisions: copied.blobRevisions, blobBytes: copied.blobBytes, lastTransaction: toHex(last), backupLast: toHex(backedUp), problems: verified.problems };
  return {
    json,
    lines: [
      `restored ${copied.transactions} transactions, ${copied.records} records, ${copied.blobRevisions} blob revisions (${copied.blobBytes} bytes)`,
      `as of ${last === 0n ? 'the beginning (empty)' : `${toHex(last)} at ${tidToDate(last).toISOString()}`}; the backups reach ${toHex(backedUp)}`,
      verified.problems.length === 0 ? 'verified: no problems found' : `verify found ${verified.problems.length} problem(s): ${verified.problems[0]!.at}: ${verified.problems[0]!.message}`,
    ],
  };
}
