/** Checks and completes the external garbage collector's options (GcOptions in contracts/database.ts). */
import { tmpdir } from 'node:os';
import type { GcProgress } from '../../contracts/database.js';
import { InvalidArgumentError } from '../../contracts/errors.js';

/** The default safety window: one hour. */
export const DEFAULT_GC_KEEP_MS = 3_600_000;
/** The default number of oids a result lists. */
export const DEFAULT_GC_REPORT_LIMIT = 1000;
/** The default in-memory entries per set before spilling. */
export const DEFAULT_GC_SPILL_THRESHOLD = 1_048_576;

/** GcOptions with every default filled in. */
export interface ResolvedGcOptions {
  readonly dryRun: boolean;
  readonly keep: number;
  readonly reportLimit: number;
  readonly spillThreshold: number;
  readonly tmpDir: string;
  readonly onProgress: ((progress: GcProgress) => void) | undefined;
}

const KNOWN = new Set(['dryRun', 'keep', 'reportLimit', 'spillThreshold', 'tmpDir', 'onProgress']);

/** Validates `options` (InvalidArgumentError naming the option) and fills in the defaults. */
export function resolveGcOptions(options: unknown): ResolvedGcOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`collectGarbage options must be an object, got ${describe(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) throw new InvalidArgumentError(`collectGarbage option "${key}" is unknown (known: ${[...KNOWN].join(', ')})`);
  }
  if (o['dryRun'] !== undefined && typeof o['dryRun'] !== 'boolean') {
    throw new InvalidArgumentError(`collectGarbage option dryRun must be a boolean, got ${describe(o['dryRun'])}`);
  }
  const keep = o['keep'] ?? DEFAULT_GC_KEEP_MS;
  if (typeof keep !== 'number' || !Number.isFinite(keep) || keep < 0) {
    throw new InvalidArgumentError(`collectGarbage option keep must be a finite non-negative number of milliseconds, got ${describe(keep)}`);
  }
  const reportLimit = integer(o['reportLimit'] ?? DEFAULT_GC_REPORT_LIMIT, 'reportLimit', 0);
  const spillThreshold = integer(o['spillThreshold'] ?? DEFAULT_GC_SPILL_THRESHOLD, 'spillThreshold', 2);
  const dir = o['tmpDir'] ?? tmpdir();
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new InvalidArgumentError(`collectGarbage option tmpDir must be a non-empty string, got ${describe(dir)}`);
  }
  const onProgress = o['onProgress'];
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new InvalidArgumentError(`collectGarbage option onProgress must be a function, got ${describe(onProgress)}`);
  }
  return { dryRun: o['dryRun'] === true, keep, reportLimit, spillThreshold, tmpDir: dir, onProgress: onProgress as ((progress: GcProgress) => void) | undefined };
}

function integer(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`collectGarbage option ${name} must be an integer >= ${min}, got ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value === 'object' && value !== null ? Object.prototype.toString.call(value) : String(value);
}
