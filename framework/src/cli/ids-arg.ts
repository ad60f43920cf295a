/** Parses oids, tids and times typed on the command line: hex as the CLI prints them, `0x` hex, or an ISO time for a tid. */
import { InvalidArgumentError } from '../contracts/errors.js';
import { isU64, tidFromMillis, type Tid } from '../contracts/ids.js';

/**
 * An oid or tid in hex, as every command prints them (`00000000000000a3`, `a3` or `0xa3`).
 * InvalidArgumentError naming `what` when it is not one.
 */
export function parseHexId(text: string, what: string): bigint {
  const match = /^\s*(?:0x)?([0-9a-fA-F]{1,16})\s*$/.exec(text);
  const value = match === null ? undefined : BigInt(`0x${match[1]}`);
  if (value === undefined || !isU64(value)) throw new InvalidArgumentError(`${what} "${text}" is not a hex id (up to 16 hex digits, as printed by handlerton)`);
  return value;
}

/** A tid given as hex, or as an ISO date/time (the first tid of that millisecond). */
export function parseTidOrTime(text: string, what: string): Tid {
  if (/^\s*(?:0x)?[0-9a-fA-F]{1,16}\s*$/.test(text) && !/^\s*\d{4}-/.test(text)) return parseHexId(text, what);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`${what} "${text}" is neither a hex tid nor a date/time (e.g. 2026-12-07T10:00:00Z)`);
  const tid = tidFromMillis(ms);
  if (!isU64(tid)) throw new InvalidArgumentError(`${what} "${text}" is beyond the last time a tid can hold`);
  return tid;
}

/** A positive integer option (e.g. a count); InvalidArgumentError naming `what` otherwise. */
export function parseCount(text: string, what: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(`${what} "${text}" is not a positive integer`);
  return value;
}
