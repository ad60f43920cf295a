/**
 * Iteration for applications: the current objects of a view (oid order) and the committed
 * transactions of a tid range, both built on the Storage contract's `iterator` (capability
 * `iterator`), which every engine here claims.
 *
 * The current objects as of tid T: the history up to T is replayed once into an oid -> serial map
 * (a delete marker maps to 0), kept as sorted runs that spill to temporary files past
 * `spillThreshold` entries (the external GC's structure), then walked in oid order. Cost: one pass
 * over every stored revision up to T (time grows with the history, not with the current objects),
 * about 16 bytes of memory per map entry up to the threshold (16 MiB at the default), temporary
 * files past it (removed when the iteration ends, also when it is abandoned or fails), and one
 * record read per current object as it is yielded. Long loops yield to the event loop.
 */
import { tmpdir } from 'node:os';
import { InvalidArgumentError, NotSupportedError } from '../contracts/errors.js';
import type { Oid, Tid } from '../contracts/ids.js';
import { assertU64, MAX_U64, tidFromMillis } from '../contracts/ids.js';
import type { Storage } from '../contracts/storage.js';
import { assertOptionsObject, describeValue } from '../util/validate.js';
import { DEFAULT_GC_SPILL_THRESHOLD } from './gc/gc-options.js';
import { RunSet } from './gc/run-set.js';
import { Cursor, RunStore } from './gc/sorted-run.js';
import { Yielder } from './gc/yielder.js';

/** The options of `Snapshot.objects()` with their defaults filled in. */
export interface ResolvedObjectsOptions {
  readonly spillThreshold: number;
  readonly tmpDir: string;
}

/** Checks `options` of `objects()`: `{ spillThreshold?, tmpDir? }`; InvalidArgumentError naming the option. */
export function resolveObjectsOptions(options: unknown): ResolvedObjectsOptions {
  assertOptionsObject(options, 'options', ['spillThreshold', 'tmpDir']);
  const spillThreshold = options?.['spillThreshold'] ?? DEFAULT_GC_SPILL_THRESHOLD;
  if (typeof spillThreshold !== 'number' || !Number.isSafeInteger(spillThreshold) || spillThreshold < 2) {
    throw new InvalidArgumentError(`options.spillThreshold must be an integer of at least 2, got ${describeValue(spillThreshold)}`);
  }
  const tmpDir = options?.['tmpDir'] ?? tmpdir();
  if (typeof tmpDir !== 'string' || tmpDir === '') throw new InvalidArgumentError(`options.tmpDir must be a non-empty string, got ${describeValue(tmpDir)}`);
  return { spillThreshold, tmpDir };
}

/** The current objects as of `tid`, ascending by oid, each with the serial of its revision at `tid` (delete markers left out). */
export async function* currentSerials(storage: Storage, tid: Tid, options: ResolvedObjectsOptions): AsyncGenerator<readonly [Oid, Tid]> {
  if (!storage.capabilities.iterator) throw new NotSupportedError('iterator', storage.name);
  const store = new RunStore(options.spillThreshold, options.tmpDir);
  const yielder = new Yielder();
  const serials = new RunSet(store, 2, yielder);
  try {
    for await (const txn of storage.iterator(undefined, tid)) {
      for (const rec of txn.records) {
        if (serials.set(rec.oid, rec.record === null ? 0n : rec.tid)) await serials.flush();
        if (yielder.tick()) await yielder.pause();
      }
    }
    const cursor = new Cursor(await serials.compact());
    try {
      while (cursor.pos < cursor.buf.length || (await cursor.ready())) {
        const oid = cursor.buf[cursor.pos]!;
        const serial = cursor.buf[cursor.pos + 1]!;
        cursor.pos += 2;
        if (serial !== 0n) yield [oid, serial];
      }
    } finally {
      await cursor.close();
    }
  } finally {
    await serials.drop().catch(() => undefined);
    await store.close();
  }
}

/** `{ since, until }` of `transactions()` as an inclusive tid range; InvalidArgumentError naming the option. */
export function resolveTidRange(options: unknown): { readonly start: Tid; readonly stop: Tid } {
  assertOptionsObject(options, 'options', ['since', 'until']);
  const start = bound(options?.['since'], 'options.since', 'since') ?? 0n;
  const stop = bound(options?.['until'], 'options.until', 'until') ?? MAX_U64;
  return { start, stop };
}

function bound(value: unknown, what: string, side: 'since' | 'until'): Tid | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw new InvalidArgumentError(`${what} must be a valid Date or a tid, got an invalid Date`);
    // A Date names a whole millisecond: `until` includes every transaction committed in it.
    if (side === 'since') return tidFromMillis(ms);
    const last = tidFromMillis(ms + 1) - 1n;
    return last < 0n ? 0n : last;
  }
  assertU64(value, what);
  return value;
}
