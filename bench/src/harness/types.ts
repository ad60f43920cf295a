/** Shared shapes of the benchmark harness: jobs, trial results, figures. */

/** Parameters of one benchmark job (JSON-serialisable). */
export type JobParams = Readonly<Record<string, string | number | boolean>>;

/** What the parent asks a worker process to do. */
export interface WorkerRequest {
  /** Benchmark id in the registry. */
  readonly bench: string;
  readonly params: JobParams;
  /** Scratch directory owned by this trial (removed by the parent afterwards). */
  readonly scratch: string;
  /** Directories of prepared datasets, by dataset name. */
  readonly datasets: Readonly<Record<string, string>>;
}

/** Memory observed by a worker during its measured phase. */
export interface MemoryStats {
  /** RSS (bytes) when the benchmark marked its baseline (after gc). */
  readonly baselineRss: number;
  /** Highest RSS sampled every 20 ms after the baseline. */
  readonly peakSampledRss: number;
  /** VmHWM from /proc/self/status at the end (whole-process peak). */
  readonly vmHwm: number;
  /** max(peakSampledRss, vmHwm) - baselineRss. */
  readonly growth: number;
}

/** What a worker sends back. */
export type WorkerResult =
  | { readonly ok: true; readonly metrics: Readonly<Record<string, number>>; readonly memory: MemoryStats }
  | { readonly ok: false; readonly unavailable: boolean; readonly reason: string };

/** A benchmark job: one benchmark with its parameters, run in `trials` fresh processes. */
export interface Job {
  /** Unique key, used by figures. */
  readonly key: string;
  readonly bench: string;
  readonly params: JobParams;
  readonly trials: number;
  /** Datasets that must exist before the job runs. */
  readonly needs?: readonly string[];
  /** Kill a trial after this many seconds. */
  readonly timeoutSec?: number;
  /** Runs in its own process before each trial, in the trial's scratch directory (e.g. pack input). */
  readonly prepare?: { readonly bench: string; readonly params: JobParams };
}

/** A dataset: built once by a setup benchmark in its own process, shared by jobs. */
export interface Dataset {
  readonly name: string;
  readonly bench: string;
  readonly params: JobParams;
  readonly timeoutSec?: number;
}

/** Outcome of one job over its trials. */
export interface JobOutcome {
  readonly key: string;
  /** Per-metric values, one per successful trial; 'rssGrowth' holds memory growth in bytes. */
  readonly samples: Readonly<Record<string, readonly number[]>>;
  readonly trials: number;
  readonly seconds: number;
  /** Set when the job could not produce figures. */
  readonly unavailable?: string;
}

/** How a figure is judged. */
export type Target =
  /** value / reference >= min */
  | { readonly kind: 'ratioAtLeast'; readonly min: number }
  /** value <= max (absolute, in the figure's unit) */
  | { readonly kind: 'atMost'; readonly max: number }
  /** value <= reference + margin */
  | { readonly kind: 'refPlusAtMost'; readonly margin: number };

/** Where a number comes from: a job's metric. */
export interface MetricRef {
  readonly job: string;
  readonly metric: string;
  /** Display name. */
  readonly name: string;
}

/** A reported figure definition. */
export interface FigureDef {
  readonly id: string;
  readonly name: string;
  readonly unit: string;
  /** Workload group, for charts and sections. */
  readonly group: string;
  readonly engine?: string;
  readonly value: MetricRef;
  readonly reference?: MetricRef;
  readonly target?: Target;
  /** Human form of the target, e.g. ">= 80% of raw fdatasync rate". */
  readonly targetText?: string;
  /** Issue that names the target. */
  readonly source?: string;
  /** Chart series info for size sweeps. */
  readonly sweep?: { readonly series: string; readonly x: number; readonly chart: string };
}

/** A computed figure as written to latest.json. */
export interface Figure {
  readonly id: string;
  readonly name: string;
  readonly unit: string;
  readonly group: string;
  readonly engine?: string;
  readonly median: number | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly trials: number;
  readonly reference: {
    readonly name: string;
    readonly median: number | null;
    readonly min: number | null;
    readonly max: number | null;
  } | null;
  readonly ratio: number | null;
  readonly target: string | null;
  /** The minimum ratio, when the target is a ratio. */
  readonly targetRatio?: number;
  readonly met: boolean | null;
  readonly unavailable?: string;
  readonly source?: string;
  readonly sweep?: { readonly series: string; readonly x: number; readonly chart: string };
}
