/** What a benchmark function receives in its worker process. */
import { RssSampler } from './memory.js';
import type { JobParams, MemoryStats } from './types.js';

/** Thrown by a benchmark whose subject cannot run here (engine not built, library missing). */
export class UnavailableError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnavailableError';
  }
}

/** Per-trial services for a benchmark. */
export class BenchContext {
  private readonly sampler = new RssSampler();
  private baselineMarked = false;

  constructor(
    readonly params: JobParams,
    /** Scratch directory of this trial. */
    readonly scratch: string,
    private readonly datasets: Readonly<Record<string, string>>,
  ) {}

  /** A numeric parameter. */
  num(name: string, fallback?: number): number {
    const value = this.params[name];
    if (typeof value === 'number') return value;
    if (fallback !== undefined) return fallback;
    throw new Error(`benchmark parameter "${name}" missing`);
  }

  /** A string parameter. */
  str(name: string, fallback?: string): string {
    const value = this.params[name];
    if (typeof value === 'string') return value;
    if (fallback !== undefined) return fallback;
    throw new Error(`benchmark parameter "${name}" missing`);
  }

  /** A boolean parameter. */
  bool(name: string, fallback = false): boolean {
    const value = this.params[name];
    return typeof value === 'boolean' ? value : fallback;
  }

  /** Directory of a prepared dataset. */
  dataset(name: string): string {
    const dir = this.datasets[name];
    if (dir === undefined) throw new Error(`dataset "${name}" was not prepared`);
    return dir;
  }

  /** Starts the measured phase for memory: gc, baseline RSS, sampling every 20 ms. */
  markBaseline(): void {
    this.baselineMarked = true;
    this.sampler.markBaseline();
  }

  /** Takes an RSS sample now (call after a burst of allocation). */
  sampleMemory(): void {
    this.sampler.sample();
  }

  /** Ends the measurement; marks a baseline first when the benchmark never did. */
  finishMemory(): MemoryStats {
    if (!this.baselineMarked) this.sampler.markBaseline();
    return this.sampler.finish();
  }
}

/** A benchmark: runs one trial and returns its metrics. */
export type Benchmark = (ctx: BenchContext) => Promise<Record<string, number>>;
