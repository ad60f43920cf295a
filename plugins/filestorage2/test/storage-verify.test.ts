/**
 * FileStorage2's own check (`verify`), read-only: a database with several sealed segments verifies
 * clean; an index entry rewritten with every checksum made valid again (so that only the index-against-
 * log comparison can tell) is reported with its file and offset; the check changes no file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import test from 'ava';
import { commit, openStorage, segmentFiles, tempDir } from './fs2-helpers.js';

/** A database of several sealed segments and an active one. */
async function build(dir: string): Promise<void> {
  const s = await openStorage(dir, { segmentSize: 8192, syncMode: 'none' });
  const serials = new Map<bigint, bigint>();
  for (let round = 0; round < 60; round++) {
    const writes = [1n, 2n, 3n, 4n].map((k) => {
      const oid = BigInt(1 + ((round * 4 + Number(k)) % 23));
      return { oid, serial: serials.get(oid) ?? 0n, data: `round ${round} oid ${oid} ${'x'.repeat(150)}` };
    });
    const tid = await commit(s, writes);
    for (const w of writes) serials.set(w.oid, tid);
  }
  await s.close();
}

/** Rewrites the `oldest` tid of index entry 0 of the sealed segment `path` and makes every checksum valid again; returns the entry's offset. */
function rewriteIndexEntry(path: string): number {
  const bytes = readFileSync(path);
  const footerOff = bytes.length - 80;
  const indexOff = Number(bytes.readBigUInt64BE(footerOff + 16));
  const count = Number(bytes.readBigUInt64BE(footerOff + 24));
  const pageCrcOff = indexOff + count * 32;
  bytes.writeBigUInt64BE(bytes.readBigUInt64BE(indexOff + 16) + 1n, indexOff + 16);
  const firstPage = bytes.subarray(indexOff, indexOff + Math.min(128, count) * 32);
  bytes.writeUInt32BE(crc32(firstPage) >>> 0, pageCrcOff);
  bytes.writeUInt32BE(crc32(bytes.subarray(pageCrcOff, footerOff)) >>> 0, footerOff + 72);
  bytes.writeUInt32BE(crc32(bytes.subarray(footerOff, footerOff + 76)) >>> 0, footerOff + 76);
  writeFileSync(path, bytes);
  return indexOff;
}

test('verify: a clean database with sealed segments has no problem; an index entry that disagrees with the log is found though every checksum holds', async (t) => {
  const { dir, cleanup } = await tempDir('fs2-verify-');
  try {
    await build(dir);
    const segments = segmentFiles(dir);
    t.true(segments.length >= 3, segments.join(', '));
    const clean = await openStorage(dir, { readOnly: true });
    try {
      const report = await clean.verify();
      t.deepEqual(report.problems, []);
      t.is(report.engine, 'filestorage2');
      t.is(report.checked['segments'], segments.length);
      t.true((report.checked['index entries'] ?? 0) > 0 && (report.checked['index pages'] ?? 0) > 0, JSON.stringify(report.checked));
      t.is(report.checked['transactions'], 60);
    } finally {
      await clean.close();
    }
    const sealed = join(dir, segments[0]!);
    const entryAt = rewriteIndexEntry(sealed);
    const before = segments.map((name) => readFileSync(join(dir, name)));
    const damaged = await openStorage(dir, { readOnly: true });
    try {
      const report = await damaged.verify();
      t.is(report.problems.length, 1, JSON.stringify(report.problems));
      t.like(report.problems[0], { file: sealed, offset: entryAt });
      t.regex(report.problems[0]!.message, /index entry for oid \d+ .* disagrees with the log/);
    } finally {
      await damaged.close();
    }
    t.deepEqual(segments.map((name) => readFileSync(join(dir, name))), before, 'verify changed no file');
  } finally {
    await cleanup();
  }
});
