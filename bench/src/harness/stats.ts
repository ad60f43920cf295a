/** Small statistics helpers. */

/** Median of the values (NaN when empty). */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** The q-quantile (0..1) with linear interpolation (NaN when empty). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? Number.NaN;
  const b = sorted[hi] ?? Number.NaN;
  return a + (b - a) * (pos - lo);
}

/** Smallest value (NaN when empty). */
export function min(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let out = Number.POSITIVE_INFINITY;
  for (const v of values) if (v < out) out = v;
  return out;
}

/** Largest value (NaN when empty). */
export function max(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let out = Number.NEGATIVE_INFINITY;
  for (const v of values) if (v > out) out = v;
  return out;
}

/** Latency recorder: collects durations in milliseconds and summarises them. */
export class Latencies {
  private readonly values: number[] = [];

  /** Adds one duration in ms. */
  add(ms: number): void {
    this.values.push(ms);
  }

  /** Number of recorded durations. */
  get count(): number {
    return this.values.length;
  }

  /** The q-quantile in ms. */
  quantile(q: number): number {
    return quantile(this.values, q);
  }

  /** The largest duration in ms. */
  max(): number {
    return max(this.values);
  }
}
