/** `handlerton history <db> <oid>` and `handlerton log <db>` (fstail): revisions and transactions with their metadata. */
import type { Command } from 'commander';
import { openDatabase } from '../../di/open-database.js';
import { NotSupportedError } from '../../contracts/errors.js';
import { tidToDate, toHex, type Oid, type Tid } from '../../contracts/ids.js';
import type { HistoryEntry, IteratedTransaction } from '../../contracts/records.js';
import { parseCount, parseHexId, parseTidOrTime } from '../ids-arg.js';
import type { Report } from '../output.js';
import { inspectTarget, parseTarget } from '../target.js';
import { openNamedDatabase } from '../default-database.js';

/** How a command prints its report. */
export type Output = (report: Report) => void;

/** Oids listed per transaction in readable `log` output before "…and N more". */
const OIDS_SHOWN = 8;

/** Registers `history` and `log`. */
export function registerHistoryCommands(program: Command, output: Output): void {
  program
    .command('history')
    .description('list the revisions of one object, newest first, with the metadata of their transactions (read-only)')
    .argument('<config>', 'engine config or path of an existing database')
    .argument('<oid>', 'object id in hex, as handlerton prints it')
    .option('--size <n>', 'at most this many revisions', '20')
    .action(async (config: string, oidText: string, options: { size: string }) => {
      const oid = parseHexId(oidText, 'oid');
      const size = parseCount(options.size, '--size');
      const db = await openDatabase(inspectTarget(parseTarget(config)));
      try {
        if (!db.storage.capabilities.history) throw new NotSupportedError('history', db.storage.name);
        output(historyReport(oid, await db.storage.history(oid, size)));
      } finally {
        await db.close();
      }
    });

  program
    .command('log')
    .description('list committed transactions in tid order with user, description and the oids they touched (read-only)')
    .argument('[config]', 'engine config or path of an existing database (default: $HANDLERTON_DB, then handlerton.json)')
    .option('--since <tid|time>', 'first tid (hex) or ISO time to list from')
    .option('--until <tid|time>', 'last tid (hex) or ISO time to list up to')
    .option('--last <n>', 'only the newest n transactions of the range')
    .action(async (named: string | undefined, options: { since?: string; until?: string; last?: string }) => {
      const since = options.since === undefined ? undefined : parseTidOrTime(options.since, '--since');
      const until = options.until === undefined ? undefined : parseTidOrTime(options.until, '--until');
      const last = options.last === undefined ? undefined : parseCount(options.last, '--last');
      const { db } = await openNamedDatabase(named, 'inspect');
      try {
        if (!db.storage.capabilities.iterator) throw new NotSupportedError('iterator', db.storage.name);
        output(logReport(await collectLog(db.storage.iterator(since, until), last)));
      } finally {
        await db.close();
      }
    });
}

/** One transaction as `log` prints it. */
interface LogEntry {
  readonly tid: string;
  readonly time: string;
  readonly user: string;
  readonly description: string;
  readonly extension: Readonly<Record<string, unknown>>;
  readonly oids: string[];
  readonly deleted: string[];
}

/** The transactions of `iterator` (only the newest `last` when given, kept in a ring, not all in memory). */
async function collectLog(iterator: AsyncIterable<IteratedTransaction>, last: number | undefined): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  for await (const txn of iterator) {
    entries.push(logEntry(txn));
    if (last !== undefined && entries.length > last) entries.shift();
  }
  return entries;
}

function logEntry(txn: IteratedTransaction): LogEntry {
  return {
    tid: toHex(txn.tid),
    time: tidToDate(txn.tid).toISOString(),
    user: txn.meta.user,
    description: txn.meta.description,
    extension: txn.meta.extension,
    oids: txn.records.filter((r) => r.record !== null).map((r) => toHex(r.oid)),
    deleted: txn.records.filter((r) => r.record === null).map((r) => toHex(r.oid)),
  };
}

/** The report of `log`: a line per transaction (oids abbreviated), all oids in JSON. */
function logReport(entries: readonly LogEntry[]): Report {
  const lines = entries.map((e) => {
    const who = [e.user === '' ? '-' : e.user, e.description === '' ? '' : `"${e.description}"`].filter((s) => s !== '').join(' ');
    const touched = [...e.oids, ...e.deleted.map((oid) => `-${oid}`)];
    const shown = touched.slice(0, OIDS_SHOWN).join(' ') + (touched.length > OIDS_SHOWN ? ` …and ${touched.length - OIDS_SHOWN} more` : '');
    return `${e.tid} ${e.time} ${who} [${touched.length}] ${shown}`;
  });
  if (entries.length === 0) lines.push('no transactions in the range');
  return { json: { transactions: entries }, lines };
}

/** The report of `history`. */
function historyReport(oid: Oid, entries: readonly HistoryEntry[]): Report {
  const json = entries.map((e) => ({ ...e, tid: toHex(e.tid), time: e.time.toISOString() }));
  const lines = [`object ${toHex(oid)}: ${entries.length} revision(s), newest first`];
  for (const e of entries) {
    const who = [e.user === '' ? '-' : e.user, e.description === '' ? '' : `"${e.description}"`].filter((s) => s !== '').join(' ');
    lines.push(`${toHex(e.tid as Tid)} ${e.time.toISOString()} ${e.deleted ? 'deleted' : `${e.size} bytes`} ${who}`);
  }
  return { json: { oid: toHex(oid), revisions: json }, lines };
}
