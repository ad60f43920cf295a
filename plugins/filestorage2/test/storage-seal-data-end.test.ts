/**
 * The next segment's header records where the previous segment's data ended, so an earlier segment
 * cut exactly at a transaction boundary (its trailer and its last transactions gone) is corruption,
 * not an interrupted seal to complete (found by the corruption sweep: open re-sealed it and the lost
 * transactions vanished silently).
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { isHandlertonError } from '@handlerton/framework';
import { commit, loadText, openStorage, segmentFiles, tempDir } from './fs2-helpers.js';

const FOOTER_SIZE = 80;
const SEGMENT_HEADER_SIZE = 64;
const SEGMENT_FLAG_PREV_END = 4;

/** Offsets where the transactions of a sealed segment end, in order (the last one is its data end). */
function transactionEnds(segment: Buffer): number[] {
  const dataEnd = Number(segment.readBigUInt64BE(segment.length - FOOTER_SIZE + 8));
  const ends: number[] = [];
  for (let pos = SEGMENT_HEADER_SIZE; pos < dataEnd; ) {
    pos += segment.readUInt32BE(pos + 4);
    ends.push(pos);
  }
  return ends;
}

/** The header flags and recorded previous data end of a segment file. */
function headerOf(path: string): { flags: number; prevDataEnd: number } {
  const header = fs.readFileSync(path).subarray(0, SEGMENT_HEADER_SIZE);
  return { flags: header.readUInt16BE(10), prevDataEnd: header.readUInt32BE(56) };
}

test('an earlier segment cut at a transaction boundary is corruption, not an interrupted seal (next segment created at the switch)', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const t1 = await commit(s, [{ oid: 1n, serial: 0n, data: 'first 1' }]);
    await commit(s, [{ oid: 2n, serial: 0n, data: 'lost if the cut is taken for an interrupted seal' }]);
    await s.seal();
    await commit(s, [{ oid: 1n, serial: t1, data: 'second 1' }]);
    await s.close();
    const [firstName, nextName] = segmentFiles(dir);
    const first = join(dir, firstName!);
    const original = fs.readFileSync(first);
    const ends = transactionEnds(original);
    t.is(ends.length, 2);
    t.deepEqual(headerOf(join(dir, nextName!)), { flags: headerOf(join(dir, nextName!)).flags | SEGMENT_FLAG_PREV_END, prevDataEnd: ends[1]! });
    const bad = original.subarray(0, ends[0]!);
    fs.writeFileSync(first, bad);
    for (const readOnly of [true, false]) {
      const err = await t.throwsAsync(openStorage(dir, { readOnly }));
      t.true(isHandlertonError(err, 'HANDLERTON_CORRUPTION'), String(err));
      t.true(err!.message.includes('missing') && err!.message.includes(first), err!.message);
    }
    t.true(fs.readFileSync(first).equals(bad), 'nothing was rewritten');
    // the same segment with only its trailer gone is an interrupted seal and is sealed again
    fs.writeFileSync(first, original.subarray(0, ends[1]!));
    const r = await openStorage(dir);
    t.is(await loadText(r, 2n), 'lost if the cut is taken for an interrupted seal');
    t.is(await loadText(r, 1n), 'second 1');
    await r.close();
    t.true(fs.readFileSync(first).equals(original), 'sealed again, byte for byte');
  } finally {
    await cleanup();
  }
});

test('an earlier segment cut at a transaction boundary is corruption when commits moved on to a prepared segment', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    // small segments fill up under steady commits: the next one is prepared (zero-filled) ahead of time
    const s = await openStorage(dir, { segmentSize: 64 * 1024 });
    const serials = new Map<bigint, bigint>();
    for (let i = 0; segmentFiles(dir).length < 4 && i < 2000; i++) {
      const oid = BigInt((i % 50) + 1);
      serials.set(oid, await commit(s, [{ oid, serial: serials.get(oid) ?? 0n, data: `txn ${i} `.repeat(60) }]));
    }
    await s.close();
    const names = segmentFiles(dir);
    t.true(names.length >= 4, `${names.length} segments`);
    const victim = join(dir, names[names.length - 3]!);
    const original = fs.readFileSync(victim);
    const ends = transactionEnds(original);
    const next = headerOf(join(dir, names[names.length - 2]!));
    t.true((next.flags & SEGMENT_FLAG_PREV_END) !== 0, 'the next segment records the data end');
    t.is(next.prevDataEnd, ends[ends.length - 1]!);
    // the last segment is active and the one before it sealed: make the victim the one before the last
    fs.rmSync(join(dir, names[names.length - 1]!));
    const bad = original.subarray(0, ends[ends.length - 3]!);
    fs.writeFileSync(victim, bad);
    const err = await t.throwsAsync(openStorage(dir, { segmentSize: 64 * 1024 }));
    t.true(isHandlertonError(err, 'HANDLERTON_CORRUPTION'), String(err));
    t.true(err!.message.includes('missing'), err!.message);
    t.true(fs.readFileSync(victim).equals(bad), 'nothing was rewritten');
  } finally {
    await cleanup();
  }
});
