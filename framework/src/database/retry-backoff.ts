/**
 * The wait between attempts of `db.transaction(fn, { retries })`: exponential backoff with full
 * jitter. Before retry n (0 for the first retry) the wait is a uniformly random number of
 * milliseconds in [0, min(maxMs, initialMs * factor^n)], so updaters that lost the same race
 * spread out instead of colliding again on the next attempt.
 */
import type { BackoffOptions } from '../contracts/database.js';
import { InvalidArgumentError } from '../contracts/errors.js';
import { assertOptionsObject, describeValue } from '../util/validate.js';

/** The backoff used when `options.backoff` is omitted. */
export const DEFAULT_BACKOFF: Readonly<Required<BackoffOptions>> = Object.freeze({ initialMs: 2, maxMs: 250, factor: 2 });

/** Largest `maxMs` accepted (one minute): a longer wait between attempts is a configuration mistake. */
const MAX_BACKOFF_MS = 60_000;

/** Checks `options.backoff` and fills in the defaults; InvalidArgumentError naming the option (e.g. `options.backoff.factor`). */
export function resolveBackoff(value: unknown): Readonly<Required<BackoffOptions>> {
  if (value === undefined) return DEFAULT_BACKOFF;
  assertOptionsObject(value, 'options.backoff', ['initialMs', 'maxMs', 'factor']);
  const backoff = value as BackoffOptions;
  const initialMs = backoff.initialMs ?? DEFAULT_BACKOFF.initialMs;
  const maxMs = backoff.maxMs ?? Math.max(DEFAULT_BACKOFF.maxMs, initialMs);
  const factor = backoff.factor ?? DEFAULT_BACKOFF.factor;
  checkNumber(initialMs, 'options.backoff.initialMs', 0, MAX_BACKOFF_MS);
  checkNumber(maxMs, 'options.backoff.maxMs', 0, MAX_BACKOFF_MS);
  checkNumber(factor, 'options.backoff.factor', 1, 16);
  if (maxMs < initialMs) {
    throw new InvalidArgumentError(`options.backoff.maxMs must be at least options.backoff.initialMs (${initialMs}), got ${maxMs}`);
  }
  return Object.freeze({ initialMs, maxMs, factor });
}

/** The wait in milliseconds before retry `retry` (0-based): full jitter over the capped exponential bound. */
export function backoffDelay(backoff: Readonly<Required<BackoffOptions>>, retry: number, random: () => number = Math.random): number {
  const bound = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** retry);
  return random() * bound;
}

function checkNumber(value: unknown, what: string, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what} must be a number from ${min} to ${max}, got ${describeValue(value)}`);
  }
}
