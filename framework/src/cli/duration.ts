/** Parses the command line's durations: `1h`, `30m`, `45s`, `250ms`, `2d`, `0`, or plain milliseconds. */
import { InvalidArgumentError } from '../contracts/errors.js';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The duration `text` in milliseconds; InvalidArgumentError naming `option` when it is not one. */
export function parseDuration(text: string, option: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  const ms = match === null ? Number.NaN : Number(match[1]) * UNIT_MS[match[2] ?? 'ms']!;
  if (!Number.isFinite(ms)) {
    throw new InvalidArgumentError(`${option} "${text}" is not a duration (e.g. 1h, 30m, 45s, 250ms, 0, or milliseconds)`);
  }
  return Math.round(ms);
}
