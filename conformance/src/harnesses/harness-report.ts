/**
 * The common result of the fault harnesses (faults, powerloss, torture, corruption): counts, the
 * one-line summary each prints, violations with what is needed to replay them, and which claimed
 * capability a clean run verifies.
 */

/** The harnesses `handlerton-conformance` runs besides the case catalogue. */
export const HARNESS_KINDS = ['faults', 'powerloss', 'torture', 'corruption'] as const;
/** One of HARNESS_KINDS. */
export type HarnessKind = (typeof HARNESS_KINDS)[number];

/** A broken invariant found by a harness. */
export interface HarnessViolation {
  /** What broke, naming the operation / crash point / cycle and the object. */
  readonly message: string;
  /** Everything needed to replay it (seed, operation number, mode, ...). */
  readonly replay?: Readonly<Record<string, string | number>>;
}

/** The result of one harness run against one engine (or mixed pair). */
export interface HarnessReport {
  readonly harness: HarnessKind;
  /** The target's label ("filestorage2", "filestorage2+sqlite"). */
  readonly engine: string;
  /** True when every count that must be zero is zero and the run did real work. */
  readonly ok: boolean;
  /** Counts printed in the summary line, in order (e.g. ops, lost, partial, untyped, unopenable). */
  readonly counts: Readonly<Record<string, number>>;
  /** The summary line, e.g. `faults: engine=sqlite ops=412 lost=0 partial=0 untyped=0 unopenable=0`. */
  readonly summary: string;
  readonly violations: readonly HarnessViolation[];
  readonly durationMs: number;
  /** PRNG seed of the run, when it used one. */
  readonly seed?: number;
  /** Why the run could not verify the engine at all (e.g. strace missing); `ok` is false then. */
  readonly notVerified?: string;
}

/** Formats `<harness>: engine=<label> k=v ...` from ordered counts. */
export function summaryLine(harness: HarnessKind, engine: string, counts: Readonly<Record<string, number>>, extra: Readonly<Record<string, string | number>> = {}): string {
  const parts = [`${harness}: engine=${engine}`];
  for (const [key, value] of Object.entries(counts)) parts.push(`${key}=${value}`);
  for (const [key, value] of Object.entries(extra)) parts.push(`${key}=${value}`);
  return parts.join(' ');
}
