/** The results file format (bench/results/latest.json). */
import type { MachineInfo } from '../harness/machine.js';
import type { Figure } from '../harness/types.js';

/** One job's bookkeeping in the results. */
export interface JobSummary {
  readonly key: string;
  readonly trials: number;
  readonly seconds: number;
  readonly unavailable?: string;
}

/** Everything a run wrote. */
export interface RunResults {
  readonly version: 1;
  readonly mode: 'full' | 'quick';
  readonly filter: string | null;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSec: number;
  readonly machine: MachineInfo;
  readonly method: string;
  readonly figures: readonly Figure[];
  readonly jobs: readonly JobSummary[];
}
