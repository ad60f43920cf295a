/** What the CLI prints: readable lines by default, one JSON document with --json; tids in hex everywhere. */
import type { BlobCapabilities, StorageCapabilities } from '../contracts/capabilities.js';
import type { DatabasePackResult } from '../contracts/records.js';
import type { GcResult } from '../contracts/database.js';
import type { CopyResult } from '../database/copy-transactions.js';
import type { VerifyResult } from './verify.js';
import { toHex, tidToDate, type Tid } from '../contracts/ids.js';

/** A printable report: a JSON-ready value and its readable lines. */
export interface Report {
  readonly json: unknown;
  readonly lines: readonly string[];
}

/** Prints a report as JSON or as readable lines. */
export function printReport(report: Report, json: boolean, write: (line: string) => void): void {
  if (json) write(JSON.stringify(report.json, null, 2));
  else for (const line of report.lines) write(line);
}

/** The last transaction as hex tid and ISO time (null when the database is empty). */
export function lastTransactionFields(last: Tid): { lastTransaction: string; lastCommit: string | null } {
  return { lastTransaction: toHex(last), lastCommit: last === 0n ? null : tidToDate(last).toISOString() };
}

/** The report of `info`. */
export function infoReport(engines: { storage: string; blobs: string }, capabilities: { readonly storage: StorageCapabilities; readonly blobs: BlobCapabilities }, last: Tid): Report {
  const fields = lastTransactionFields(last);
  const on = (flags: object): string => Object.entries(flags).filter(([, v]) => v === true).map(([k]) => k).join(', ') || '-';
  return {
    json: { engines, capabilities, ...fields },
    lines: [
      `storage engine:   ${engines.storage}`,
      `blob engine:      ${engines.blobs} (mode ${capabilities.blobs.mode})`,
      `storage features: ${on(capabilities.storage)}`,
      `blob features:    ${on(capabilities.blobs)}`,
      `last transaction: ${fields.lastCommit === null ? 'none (empty database)' : `${fields.lastTransaction} at ${fields.lastCommit}`}`,
    ],
  };
}

/** The report of `pack`: record revisions and blob revisions removed, with their bytes. */
export function packReport(result: DatabasePackResult): Report {
  return {
    json: result,
    lines: [
      `packed: ${result.removedRevisions} record revisions and ${result.removedObjects} objects removed (${result.reclaimedBytes} bytes), ` +
        `${result.reclaimedBlobRevisions} blob revisions reclaimed (${result.reclaimedBlobBytes} bytes)`,
    ],
  };
}

/** The report of `gc` (and of the pack that followed it, if any). */
export function gcReport(gc: GcResult, packed: DatabasePackResult | undefined): Report {
  const oids = gc.oids.map(toHex);
  const verb = gc.dryRun ? 'would delete' : 'deleted';
  const lines = [`gc: ${verb} ${oids.length} unreachable objects${oids.length > 0 ? `: ${oids.slice(0, 20).join(' ')}${oids.length > 20 ? ' ...' : ''}` : ''}`];
  if (packed) lines.push(packReport(packed).lines[0]!);
  return { json: { ...gc, oids, ...(packed ? { packed } : {}) }, lines };
}

/** The report of `copy` (the blob id map as hex pairs, not a Map that JSON cannot print). */
export function copyReport(result: CopyResult): Report {
  const blobIds = Object.fromEntries([...result.blobIds].map(([from, to]) => [toHex(from), toHex(to)]));
  return {
    json: { transactions: result.transactions, records: result.records, blobRevisions: result.blobRevisions, blobBytes: result.blobBytes, blobIds, resumedAfter: toHex(result.resumedAfter) },
    lines: [
      `copied ${result.transactions} transactions, ${result.records} records, ${result.blobRevisions} blob revisions (${result.blobBytes} bytes)` +
        (result.resumedAfter === 0n ? '' : ` after the destination's last transaction ${toHex(result.resumedAfter)}`),
    ],
  };
}

/** The report of `verify`: what was checked, then each problem on its own line. */
export function verifyReport(result: VerifyResult): Report {
  const engines = (result.engineChecks ?? []).map((r) => {
    const counts = Object.entries(r.checked).map(([what, n]) => `${n} ${what}`).join(', ');
    return `${r.role} ${r.engine} check: ${counts === '' ? 'nothing checked' : counts}; ${r.problems.length === 0 ? 'no problems' : `${r.problems.length} problem(s)`}`;
  });
  const checked = `checked ${result.transactions} transactions, ${result.records} records, ${result.blobRevisions} blob revisions (${result.blobBytes} bytes)`;
  const found = result.problems.length === 0 ? ['no problems found'] : [`${result.problems.length} problem(s) found:`, ...result.problems.map((p) => `  ${p.at}: ${p.message}`)];
  return { json: result, lines: [...engines, checked, ...found] };
}
