/** Reads over the segment chain: current, exact and before-tid loads, history, and iteration. */
import { CorruptionError, POSKeyError, tidToDate, toHex, type HistoryEntry, type IteratedTransaction, type LoadedRecord, type LoadedRevision } from '@handlerton/framework';
import type { ActiveSegment } from './active-segment.js';
import { oidHashes } from './bloom.js';
import { SEGMENT_HEADER_SIZE } from './constants.js';
import type { FileIO } from './file-io.js';
import { checkRecord, decodeMeta, toIterated, toLoaded } from './record-codec.js';
import { scanTxns } from './record-io.js';
import type { SealedSegment } from './sealed-segment.js';
import type { SegmentFile } from './segment-file.js';
import type { ParsedRecord, ParsedTxn } from './txn-format.js';

/**
 * The live segments: the active one (absent in some read-only opens), the previous one while its
 * trailer is being written (`frozen`), and the sealed ones, oldest first.
 */
export interface SegmentChain {
  readonly active: ActiveSegment | null;
  readonly frozen: ActiveSegment | null;
  readonly sealed: readonly SealedSegment[];
}

/** What a lookup needs from a segment, active or sealed. */
interface SegmentView {
  find(oid: bigint, hash?: readonly [number, number, number, number]): { off: number; tid: bigint; oldest: bigint; deleted: boolean } | null | undefined;
  readRecord(off: number): ParsedRecord;
  readTxn(off: number): ParsedTxn;
}

/** Segments newest first: the active one, then the sealed ones. */
function newestFirst(chain: SegmentChain): SegmentView[] {
  const out: SegmentView[] = chain.active ? [chain.active] : [];
  if (chain.frozen) out.push(chain.frozen);
  for (let i = chain.sealed.length - 1; i >= 0; i--) out.push(chain.sealed[i]!);
  return out;
}

/** The newest segment holding `oid`, with its entry (bloom hashes computed once for all segments). */
function locate(chain: SegmentChain, oid: bigint): { seg: SegmentView; e: { off: number; tid: bigint; deleted: boolean } } | null {
  const active = chain.active;
  if (active) {
    const e = active.find(oid);
    if (e) return { seg: active, e };
  }
  const frozen = chain.frozen;
  if (frozen) {
    const e = frozen.find(oid);
    if (e) return { seg: frozen, e };
  }
  if (chain.sealed.length === 0) return null;
  const hash = oidHashes(oid);
  for (let i = chain.sealed.length - 1; i >= 0; i--) {
    const seg = chain.sealed[i]!;
    const e = seg.find(oid, hash);
    if (e) return { seg, e };
  }
  return null;
}

/** The current revision of `oid`; POSKeyError when unknown or deleted. */
export function loadCurrent(chain: SegmentChain, oid: bigint): LoadedRecord {
  const hit = locate(chain, oid);
  if (!hit) throw new POSKeyError(`no object with oid ${toHex(oid)}`, oid);
  const { seg, e } = hit;
  if (e.deleted) throw new POSKeyError(`oid ${toHex(oid)} was deleted`, oid);
  const rec = seg.readRecord(e.off);
  checkRecord(rec, oid, e.tid);
  return toLoaded(rec);
}

/** The revision of `oid` written by `tid`; POSKeyError when there is none. */
export function loadSerialOf(chain: SegmentChain, oid: bigint, tid: bigint): LoadedRecord {
  for (const seg of newestFirst(chain)) {
    const e = seg.find(oid);
    if (!e || e.oldest > tid) continue;
    if (e.tid < tid) break;
    let rec = seg.readRecord(e.off);
    checkRecord(rec, oid, e.tid);
    while (rec.tid > tid && rec.prev !== 0) rec = seg.readRecord(rec.prev);
    if (rec.tid === tid && !rec.deleted) return toLoaded(rec);
    break;
  }
  throw new POSKeyError(`oid ${toHex(oid)} has no revision ${toHex(tid)}`, oid);
}

/** The newest revision of `oid` before `tid` with the tid after it; null when none; POSKeyError per the contract. */
export function loadBeforeOf(chain: SegmentChain, oid: bigint, tid: bigint): LoadedRevision | null {
  let next: bigint | null = null;
  let seen = false;
  for (const seg of newestFirst(chain)) {
    const e = seg.find(oid);
    if (!e) continue;
    seen = true;
    if (e.oldest >= tid) {
      next = e.oldest;
      continue;
    }
    let rec = seg.readRecord(e.off);
    checkRecord(rec, oid, e.tid);
    while (rec.tid >= tid) {
      next = rec.tid;
      if (rec.prev === 0) throw new CorruptionError(`revision chain of oid ${toHex(oid)} ends before its oldest revision`, undefined, rec.offset);
      rec = seg.readRecord(rec.prev);
    }
    if (rec.deleted) throw new POSKeyError(`oid ${toHex(oid)} was deleted before ${toHex(tid)}`, oid);
    return { ...toLoaded(rec), nextTid: next };
  }
  if (!seen) throw new POSKeyError(`no object with oid ${toHex(oid)}`, oid);
  return null;
}

/** Up to `size` revisions of `oid`, newest first; POSKeyError when unknown. */
export function historyOf(chain: SegmentChain, oid: bigint, size: number): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  let seen = false;
  for (const seg of newestFirst(chain)) {
    const e = seg.find(oid);
    if (!e) continue;
    seen = true;
    let off = e.off;
    while (off !== 0 && out.length < size) {
      const rec = seg.readRecord(off);
      const txn = seg.readTxn(rec.txnOff);
      const meta = decodeMeta(txn.meta);
      out.push({ tid: rec.tid, time: tidToDate(rec.tid), ...meta, size: rec.data.length, deleted: rec.deleted });
      off = rec.prev;
    }
    if (out.length >= size) break;
  }
  if (!seen) throw new POSKeyError(`no object with oid ${toHex(oid)}`, oid);
  return out;
}

/** Longest stretch an iteration runs without giving the event loop a turn. */
const LOOP_TURN_MS = 10;

/**
 * Transactions with start <= tid <= stop in tid order. Holds a reference on every segment file it
 * will read, so a pack cannot remove one under it. Gives the event loop a turn every 10 ms.
 */
export async function* iterateChain(io: FileIO, chain: SegmentChain, start: bigint, stop: bigint): AsyncGenerator<IteratedTransaction> {
  const parts: { file: SegmentFile; end: number; minTid: bigint; maxTid: bigint }[] = [];
  for (const s of chain.sealed) parts.push({ file: s.file, end: s.footer.dataEnd, minTid: s.footer.minTid, maxTid: s.footer.maxTid });
  for (const a of [chain.frozen, chain.active]) {
    if (a) parts.push({ file: a.file, end: a.publishedEnd, minTid: a.minTid, maxTid: a.maxTid });
  }
  for (const p of parts) p.file.acquire();
  let lastTurn = performance.now();
  try {
    for (const p of parts) {
      if (p.maxTid < start || p.minTid > stop || p.end <= SEGMENT_HEADER_SIZE) continue;
      const batch: IteratedTransaction[] = [];
      for (const txn of scanTxns(io, p.file.fd, p.file.path, SEGMENT_HEADER_SIZE, p.end)) {
        if (txn.tid > stop) break;
        if (txn.tid < start) continue;
        batch.push(toIterated(txn)); // owns its bytes: the scanner's buffer may move on
        if (batch.length >= 64) {
          yield* batch.splice(0);
          // Async generators resume as microtasks: without a macrotask turn now and then, a long
          // iteration (copy, GC over millions of records) would hold the event loop to its end.
          if (performance.now() - lastTurn > LOOP_TURN_MS) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            lastTurn = performance.now();
          }
        }
      }
      yield* batch;
    }
  } finally {
    for (const p of parts) p.file.release();
  }
}
