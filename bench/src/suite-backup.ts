/**
 * The backup rows of the plan (issue 15): an incremental backup after 1% of a database changed
 * copies about 1% of the bytes. One trial per engine builds the database, takes a full and an
 * incremental `handlerton backup`; HANDLERTON_BENCH_BACKUP_MIB sets the database size (quick runs).
 */
import type { FigureDef, JobParams, MetricRef } from './harness/types.js';

const MiB = 1024 * 1024;

/** What the plan builder lends this part. */
export interface BackupPlanTools {
  job(bench: string, params: JobParams, options?: { trials?: number; timeoutSec?: number }): string;
  fig(def: FigureDef): void;
  m(job: string, metric: string, name: string): MetricRef;
  /** The raw stream copy of `bytes`, when the plan measures one (a reference for the full backup's rate). */
  streamCopy(bytes: number): MetricRef | undefined;
}

/** The database size: HANDLERTON_BENCH_BACKUP_MIB (a positive integer) or the plan's. */
export function backupBytes(base: number): number {
  const raw = process.env['HANDLERTON_BENCH_BACKUP_MIB'];
  const mib = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  return Number.isInteger(mib) && mib > 0 ? mib * MiB : base;
}

function sizeText(bytes: number): string {
  return bytes >= 1024 * MiB && bytes % (1024 * MiB) === 0 ? `${bytes / (1024 * MiB)} GiB` : `${Math.round(bytes / MiB)} MiB`;
}

/** Adds the incremental-backup jobs and figures for FileStorage2 and SQLite. */
export function addBackup(base: number, { job, fig, m, streamCopy }: BackupPlanTools): void {
  const bytes = backupBytes(base);
  const size = sizeText(bytes);
  for (const [engine, label] of [['filestorage2', 'FileStorage2'], ['sqlite', 'SQLite']] as const) {
    const run = job('engine.backupinc', { engine, bytes }, { trials: 1, timeoutSec: 3600 });
    fig({
      id: `backup.incremental.${engine}`, group: 'backup', engine, unit: '%',
      name: `${label}: incremental backup after 1% changed (new revisions of 1% of the blobs and records of a ${size} database, 99% in blobs of up to 1 MiB), bytes as % of the full backup`,
      value: m(run, 'incPctOfFull', 'incremental backup bytes, % of the full backup'),
      reference: m(run, 'changedPct', 'bytes given new revisions, % of the database'),
      target: { kind: 'refPlusAtMost', margin: 0.5 }, targetText: '≤ the changed share + 0.5 points', source: 'issue 15',
    });
    fig({
      id: `backup.incremental-bytes.${engine}`, group: 'backup', engine, unit: 'MiB',
      name: `${label}: incremental backup file after 1% changed, ${size} database`,
      value: m(run, 'incMiB', 'incremental backup'), reference: m(run, 'fullMiB', 'full backup of the same database'),
    });
    fig({
      id: `backup.incremental-time.${engine}`, group: 'backup', engine, unit: 'ms',
      name: `${label}: incremental backup after 1% changed, ${size} database (the whole command)`,
      value: m(run, 'incMs', 'incremental backup'), reference: m(run, 'fullMs', 'full backup of the same database'),
    });
    const copy = streamCopy(bytes);
    fig({
      id: `backup.full.${engine}`, group: 'backup', engine, unit: 'MiB/s',
      name: `${label}: full backup of ${size} (\`handlerton backup\`: read, write, fsync, read back and check)`,
      value: m(run, 'fullMiBps', 'full backup'),
      ...(copy === undefined ? {} : { reference: copy }),
    });
  }
}
