/**
 * `verify` of one segment file (read-only): every transaction and data record checksum, record
 * chains, and for a sealed segment the trailer (page CRCs, fences, bloom, footer, padding) and the
 * index against the log, entry by entry. Problems go to a VerifyCollector; nothing throws for damage.
 */
import type { FileHandle } from 'node:fs/promises';
import { CorruptionError, toHex, type VerifyCollector } from '@handlerton/framework';
import { bloomMayContain, oidHashes } from './bloom.js';
import { ENTRIES_PER_PAGE, INDEX_ENTRY_SIZE, PAGE_SIZE, SEGMENT_HEADER_SIZE, TXN_HEADER_SIZE, TXN_TRAILER_SIZE } from './constants.js';
import { crc32 } from './crc.js';
import { readEntry } from './index-entry.js';
import { trailerLayout, type SegmentFooter } from './segment-format.js';
import { parseTxn, validTxnLength } from './txn-format.js';

/** What the log of one segment holds per oid (what its index entry must say). */
export interface LoggedOid {
  newestTid: bigint;
  oldestTid: bigint;
  newestOff: number;
  deleted: boolean;
}

/** The result of walking a segment's transactions. */
export interface WalkedLog {
  /** End of the last whole, valid transaction. */
  readonly end: number;
  /** Offset of the first bytes that are not a valid transaction (-1 when the walk reached `limit`). */
  readonly badAt: number;
  readonly transactions: number;
  readonly firstTid: bigint;
  readonly lastTid: bigint;
  readonly maxOid: bigint;
  readonly oids: Map<bigint, LoggedOid>;
}

const ZERO_BLOCK = 1 << 20;

/** Reads `length` bytes at `position`; returns the bytes read (short at the end of the file). */
export async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await file.read(buffer, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buffer.subarray(0, got);
}

/** Offset of the first non-zero byte in `[from, to)`, or -1 when all are zero. */
export async function firstNonZero(file: FileHandle, from: number, to: number): Promise<number> {
  for (let at = from; at < to; ) {
    const bytes = await readAt(file, at, Math.min(ZERO_BLOCK, to - at));
    if (bytes.length === 0) return -1;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return at + i;
    at += bytes.length;
  }
  return -1;
}

/**
 * Walks the transactions of `[SEGMENT_HEADER_SIZE, limit)`: each must be whole and valid (record
 * and transaction checksums, records belonging to it), tids must rise (after `afterTid`), and each
 * record's `prev` must name the oid's previous record in the segment. Stops at the first bytes that
 * are not a valid transaction (reported by the caller, which knows whether they may be zeros).
 */
export async function walkLog(file: FileHandle, path: string, limit: number, afterTid: bigint, c: VerifyCollector): Promise<WalkedLog> {
  const oids = new Map<bigint, LoggedOid>();
  let at = SEGMENT_HEADER_SIZE;
  let transactions = 0;
  let firstTid = 0n;
  let lastTid = afterTid;
  let maxOid = 0n;
  while (at < limit) {
    const head = await readAt(file, at, 8);
    const total = head.length === 8 ? head.readUInt32BE(4) : 0;
    if (total < TXN_HEADER_SIZE + TXN_TRAILER_SIZE || at + total > limit) return { end: at, badAt: at, transactions, firstTid, lastTid, maxOid, oids };
    const bytes = await readAt(file, at, total);
    if (bytes.length !== total || validTxnLength(bytes, 0) !== total) return { end: at, badAt: at, transactions, firstTid, lastTid, maxOid, oids };
    let txn;
    try {
      txn = parseTxn(bytes, 0, at, path, false);
    } catch (error) {
      c.problem(path, error instanceof CorruptionError && error.offset !== undefined ? error.offset : at, (error as Error).message);
      return { end: at, badAt: -1, transactions, firstTid, lastTid, maxOid, oids };
    }
    transactions++;
    c.count('transactions');
    if (firstTid === 0n) firstTid = txn.tid;
    if (txn.tid <= lastTid) c.problem(path, at, `transaction tid ${toHex(txn.tid)} does not follow the previous one (${toHex(lastTid)})`);
    lastTid = txn.tid;
    for (const rec of txn.records) {
      c.count('records');
      if (rec.oid > maxOid) maxOid = rec.oid;
      const known = oids.get(rec.oid);
      const expectedPrev = known === undefined ? 0 : known.newestOff;
      if (rec.prev !== expectedPrev) c.problem(path, rec.offset, `record of oid ${toHex(rec.oid)} at tid ${toHex(rec.tid)} links to offset ${rec.prev}, but the oid's previous record in the segment is at ${expectedPrev}`);
      if (known === undefined) oids.set(rec.oid, { newestTid: rec.tid, oldestTid: rec.tid, newestOff: rec.offset, deleted: rec.deleted });
      else {
        known.newestTid = rec.tid;
        known.newestOff = rec.offset;
        known.deleted = rec.deleted;
      }
    }
    at += total;
  }
  return { end: at, badAt: -1, transactions, firstTid, lastTid, maxOid, oids };
}

/**
 * Checks a sealed segment: footer bounds, padding, the trailer's checksum, every index page's
 * checksum, fences, bloom, and the index against the log `log` (every indexed oid where the log
 * has its newest record; every logged oid indexed).
 */
export async function checkTrailer(file: FileHandle, path: string, size: number, footer: SegmentFooter, log: WalkedLog, c: VerifyCollector): Promise<void> {
  const footerOff = size - 80;
  const layout = trailerLayout(footer.indexOff, footer.count, footer.bloomBits, INDEX_ENTRY_SIZE, PAGE_SIZE);
  if (footer.dataEnd < SEGMENT_HEADER_SIZE || footer.indexOff < footer.dataEnd || footer.indexOff % PAGE_SIZE !== 0) {
    c.problem(path, footerOff, 'footer offsets out of range');
    return;
  }
  if (log.badAt >= 0 || log.end !== footer.dataEnd) {
    c.problem(path, log.badAt >= 0 ? log.badAt : log.end, `the transactions end at ${log.end}${log.badAt >= 0 ? ' (bytes there are not a valid transaction)' : ''}, the footer says ${footer.dataEnd}`);
  }
  if (log.transactions !== footer.txnCount) c.problem(path, footerOff + 56, `the footer counts ${footer.txnCount} transactions, the log holds ${log.transactions}`);
  if (log.transactions > 0 && (log.firstTid < footer.minTid || log.lastTid > footer.maxTid)) {
    c.problem(path, footerOff + 32, `the log's tids ${toHex(log.firstTid)}..${toHex(log.lastTid)} are outside the footer's bounds ${toHex(footer.minTid)}..${toHex(footer.maxTid)}`);
  }
  if (log.maxOid > footer.maxOid) c.problem(path, footerOff + 48, `the log holds oid ${toHex(log.maxOid)}, above the footer's maxOid ${toHex(footer.maxOid)}`);
  const pad = await firstNonZero(file, footer.dataEnd, footer.indexOff);
  if (pad >= 0) c.problem(path, pad, 'non-zero byte in the padding before the index');
  const metaLen = layout.footerOff - layout.pageCrcOff;
  const meta = await readAt(file, layout.pageCrcOff, metaLen);
  c.count('trailers');
  if (meta.length !== metaLen || crc32(meta) !== footer.metaCrc) {
    c.problem(path, layout.pageCrcOff, 'index trailer (page crcs, fences, bloom) checksum mismatch');
    return;
  }
  const bloom = meta.subarray(layout.pages * 12);
  const remaining = new Map(log.oids);
  let previous = -1n;
  let indexed = 0;
  let pageFailed = false;
  for (let p = 0; p < layout.pages; p++) {
    const entries = Math.min(ENTRIES_PER_PAGE, footer.count - p * ENTRIES_PER_PAGE);
    const off = footer.indexOff + p * PAGE_SIZE;
    const page = await readAt(file, off, entries * INDEX_ENTRY_SIZE);
    c.count('index pages');
    if (page.length !== entries * INDEX_ENTRY_SIZE || crc32(page) !== meta.readUInt32BE(p * 4)) {
      c.problem(path, off, `index page ${p} checksum mismatch`);
      pageFailed = true; // what it held is unknown: the oids left over below are not reported
      continue;
    }
    for (let i = 0; i < entries; i++) {
      const e = readEntry(page, i * INDEX_ENTRY_SIZE);
      const where = off + i * INDEX_ENTRY_SIZE;
      indexed++;
      if (i === 0 && meta.readBigUInt64BE(layout.pages * 4 + p * 8) !== e.oid) c.problem(path, layout.fenceOff + p * 8, `fence of index page ${p} is not its first oid ${toHex(e.oid)}`);
      if (e.oid <= previous) c.problem(path, where, `index entry for oid ${toHex(e.oid)} is out of order`);
      previous = e.oid;
      if (!bloomMayContain(bloom, footer.bloomBits, footer.bloomK, oidHashes(e.oid))) c.problem(path, layout.bloomOff, `the bloom filter does not contain indexed oid ${toHex(e.oid)}`);
      const logged = remaining.get(e.oid);
      if (logged === undefined) {
        c.problem(path, where, `index entry for oid ${toHex(e.oid)} names no revision the log holds`);
        continue;
      }
      remaining.delete(e.oid);
      if (logged.newestOff !== e.off || logged.newestTid !== e.tid || logged.oldestTid !== e.oldest || logged.deleted !== e.deleted) {
        c.problem(
          path,
          where,
          `index entry for oid ${toHex(e.oid)} (newest tid ${toHex(e.tid)} at ${e.off}, oldest ${toHex(e.oldest)}${e.deleted ? ', deleted' : ''}) disagrees with the log (newest tid ${toHex(logged.newestTid)} at ${logged.newestOff}, oldest ${toHex(logged.oldestTid)}${logged.deleted ? ', deleted' : ''})`,
        );
      }
    }
  }
  c.count('index entries', indexed);
  if (pageFailed) return;
  if (indexed !== footer.count) c.problem(path, footerOff + 24, `the footer counts ${footer.count} index entries, ${indexed} were read`);
  let missing = 0;
  for (const oid of remaining.keys()) {
    if (missing++ < 20) c.problem(path, footer.indexOff, `oid ${toHex(oid)} has revisions in the log but no index entry`);
  }
}
