/**
 * The external garbage collector (after zc.zodbdgc): marks every object reachable from the root
 * through declared refs, then deletes the rest with deleteObject, in batches of transactions.
 *
 * - It refuses to run (GcRootMissingError, nothing deleted) when the root has no current revision:
 *   every object would be garbage, which is almost always a misconfigured application.
 * - Safety window (`keep`, default one hour): objects written by transactions newer than now - keep,
 *   the oids those transactions reference, and everything reachable from them are kept.
 * - An object changed since it was found (ConflictError) or already gone (POSKeyError) is skipped,
 *   so live data is never deleted. Transactions that commit while the collector marks are roots.
 *   Residual race (as in zc.zodbdgc): a transaction that re-links an unreachable object it still
 *   holds, committing between the final scan and the delete, loses that object; the safety window
 *   covers it for transactions that wrote or referenced the object within `keep`.
 * - Bounded memory: the current objects (oid -> serial), the marked oids and the frontier are sorted
 *   runs (RunSet) that spill to temporary files past `spillThreshold` entries; marking goes level
 *   by level, subtracting the marked runs from each level. Space is reclaimed by a later pack.
 */
import type { Clock, Logger } from '../contracts/context.js';
import { silentLogger, systemClock } from '../contracts/context.js';
import type { GcOptions, GcProgress, GcResult } from '../contracts/database.js';
import { GcRootMissingError, isHandlertonError, NotSupportedError } from '../contracts/errors.js';
import type { Oid, Tid } from '../contracts/ids.js';
import { ROOT_OID, tidFromMillis } from '../contracts/ids.js';
import type { LoadedRecord } from '../contracts/records.js';
import { storageTransaction, type Storage } from '../contracts/storage.js';
import { resolveGcOptions, type ResolvedGcOptions } from './gc/gc-options.js';
import { RunSet, subtractRun } from './gc/run-set.js';
import { Cursor, RunStore, type Run } from './gc/sorted-run.js';
import { Yielder } from './gc/yielder.js';

const BATCH = 500;

/** The services the collector uses; defaults: the system clock, no logging. */
export interface GcServices {
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** Deletes every object unreachable from the root and outside the safety window; see GcOptions. */
export async function collectGarbage(storage: Storage, options?: GcOptions, services: GcServices = {}): Promise<GcResult> {
  const opts = resolveGcOptions(options);
  for (const capability of ['iterator', 'externalGC'] as const) {
    if (!storage.capabilities[capability]) throw new NotSupportedError(capability, storage.name);
  }
  if ((await loadOrNull(storage, ROOT_OID)) === null) throw rootMissing();
  const store = new RunStore(opts.spillThreshold, opts.tmpDir);
  const gc = new Collector(storage, opts, store);
  try {
    const result = await gc.run((services.clock ?? systemClock).now());
    (services.logger ?? silentLogger).info({ ...result, oids: result.oids.length }, 'garbage collected');
    return result;
  } finally {
    await gc.dispose();
    await store.close();
  }
}

function rootMissing(): GcRootMissingError {
  return new GcRootMissingError('collectGarbage: the root object (oid 0) has no current revision; refusing to run, since every object would be garbage');
}

/** One run of the collector: owns its sets, which dispose() drops. */
class Collector {
  readonly #y = new Yielder();
  readonly #sets: RunSet[] = [];
  readonly #live: RunSet;
  readonly #marked: RunSet;
  /** Transactions replayed, objects loaded while marking, current objects swept, delete markers written: what onProgress reports. */
  #replayed = 0;
  #loaded = 0;
  #swept = 0;
  #deleted = 0;

  constructor(
    readonly storage: Storage,
    readonly opts: ResolvedGcOptions,
    readonly store: RunStore,
  ) {
    this.#live = this.#set(2);
    this.#marked = this.#set(1, true);
  }

  /** Replays, marks (root, then the window, then racing commits) and sweeps, with `nowMs` as the clock's now. */
  async run(nowMs: number): Promise<GcResult> {
    const startTid = this.storage.lastTransaction();
    const cutoff = this.opts.keep > 0 ? tidFromMillis(nowMs - this.opts.keep) : undefined;
    const windowRoots = this.#set(1);
    await this.#replay(windowRoots, cutoff);
    const rootSet = this.#set(1);
    rootSet.add(ROOT_OID);
    const reachable = await this.#mark(rootSet);
    if (reachable === 0) throw rootMissing(); // deleted since the check: refuse rather than delete everything
    let recent = await this.#mark(windowRoots);
    // Whatever committed while we marked is live, as is everything it references.
    const racing = this.#set(1);
    for await (const txn of this.storage.iterator(startTid + 1n)) {
      for (const rec of txn.records) if (rec.record !== null) await this.#addAll(racing, rec.oid, rec.record.refs.oids);
    }
    recent += await this.#mark(racing);
    const { garbage, deleted, oids } = await this.#sweep();
    return { dryRun: this.opts.dryRun, reachable, recent, garbage, deleted, oids, spilled: this.store.spills > 0 };
  }

  /** Drops every set (closing and deleting their files). */
  async dispose(): Promise<void> {
    for (const set of this.#sets) await set.drop().catch(() => undefined);
  }

  /** Tells opts.onProgress where the collection is. */
  #report(phase: GcProgress['phase']): void {
    const done = phase === 'replay' ? this.#replayed : phase === 'mark' ? this.#loaded : this.#swept;
    this.opts.onProgress?.({ phase, done, deleted: this.#deleted });
  }

  /** Reports progress and yields to the event loop, when the loop has run long enough. */
  async #step(phase: GcProgress['phase']): Promise<void> {
    if (!this.#y.tick()) return;
    this.#report(phase);
    await this.#y.pause();
  }

  #set(stride: 1 | 2, lookups = false): RunSet {
    const set = new RunSet(this.store, stride, this.#y, lookups);
    this.#sets.push(set);
    return set;
  }

  /** Replays the history: the current serial of every object (0 for a delete marker), and the window's roots. */
  async #replay(windowRoots: RunSet, cutoff: Tid | undefined): Promise<void> {
    this.#report('replay');
    for await (const txn of this.storage.iterator()) {
      const recent = cutoff !== undefined && txn.tid >= cutoff;
      for (const rec of txn.records) {
        if (this.#live.set(rec.oid, rec.record === null ? 0n : rec.tid)) await this.#live.flush();
        if (recent && rec.record !== null) await this.#addAll(windowRoots, rec.oid, rec.record.refs.oids);
        await this.#step('replay');
      }
      this.#replayed++;
    }
    this.#report('replay');
  }

  async #addAll(set: RunSet, oid: Oid, refs: readonly Oid[]): Promise<void> {
    if (set.add(oid)) await set.flush();
    for (const ref of refs) if (set.add(ref)) await set.flush();
  }

  /** Marks everything reachable from `frontier` (level by level) and returns how many objects it loaded. */
  async #mark(frontier: RunSet): Promise<number> {
    let loaded = 0;
    this.#report('mark');
    while (frontier.size > 0) {
      const level = await frontier.take();
      let fresh: Run = level;
      for (const run of this.#marked.runs) {
        const next = await subtractRun(this.store, fresh, run, this.#y);
        if (fresh !== level) await fresh.drop();
        fresh = next;
      }
      if (fresh !== level) await level.drop();
      try {
        for await (const chunk of fresh.chunks()) {
          for (const oid of chunk) {
            const record = await loadOrNull(this.storage, oid);
            if (record !== null) {
              loaded++;
              this.#loaded++;
              for (const ref of record.refs.oids) if (frontier.add(ref)) await frontier.flush();
            }
            await this.#step('mark');
          }
        }
      } catch (error) {
        await fresh.drop();
        throw error;
      }
      await this.#marked.push(fresh);
    }
    return loaded;
  }

  /** Walks the current objects that are not marked: deletes them (or, in a dry run, counts them). */
  async #sweep(): Promise<{ garbage: number; deleted: number; oids: Oid[] }> {
    const live = new Cursor(await this.#live.compact());
    const marked = new Cursor(await this.#marked.compact());
    const oids: Oid[] = [];
    let garbage = 0;
    let deleted = 0;
    let batch: [Oid, Tid][] = [];
    this.#report('sweep');
    try {
      while (live.pos < live.buf.length || (await live.ready())) {
        const oid = live.buf[live.pos]!;
        const serial = live.buf[live.pos + 1]!;
        live.pos += 2;
        this.#swept++;
        while ((marked.pos < marked.buf.length || (await marked.ready())) && marked.buf[marked.pos]! < oid) marked.pos++;
        const isMarked = marked.pos < marked.buf.length && marked.buf[marked.pos] === oid;
        if (serial === 0n || isMarked) continue;
        garbage++;
        if (this.opts.dryRun) {
          if (oids.length < this.opts.reportLimit) oids.push(oid);
        } else {
          batch.push([oid, serial]);
          if (batch.length === BATCH) {
            deleted += await deleteBatch(this.storage, batch, oids, this.opts.reportLimit);
            this.#deleted = deleted;
            batch = [];
          }
        }
        await this.#step('sweep');
      }
      if (batch.length > 0) deleted += await deleteBatch(this.storage, batch, oids, this.opts.reportLimit);
      this.#deleted = deleted;
      this.#report('sweep');
    } finally {
      await live.close();
      await marked.close();
    }
    return { garbage, deleted, oids };
  }
}

async function loadOrNull(storage: Storage, oid: Oid): Promise<LoadedRecord | null> {
  try {
    return await storage.load(oid);
  } catch (error) {
    if (isHandlertonError(error, 'HANDLERTON_POS_KEY')) return null;
    throw error;
  }
}

/** Deletes one batch in one transaction; adds the deleted oids to `report` up to `limit`; returns how many it deleted. */
async function deleteBatch(storage: Storage, batch: readonly [Oid, Tid][], report: Oid[], limit: number): Promise<number> {
  const txn = storageTransaction({ user: 'handlerton-gc', description: 'external garbage collection' });
  await storage.tpcBegin(txn);
  const done: Oid[] = [];
  try {
    for (const [oid, serial] of batch) {
      try {
        await storage.deleteObject(oid, serial, txn);
        done.push(oid);
      } catch (error) {
        if (!isHandlertonError(error, 'HANDLERTON_CONFLICT') && !isHandlertonError(error, 'HANDLERTON_POS_KEY')) throw error;
      }
    }
    await storage.tpcVote(txn);
  } catch (error) {
    await storage.tpcAbort(txn);
    throw error;
  }
  await storage.tpcFinish(txn);
  for (const oid of done) if (report.length < limit) report.push(oid);
  return done.length;
}
