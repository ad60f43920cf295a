/** Sealing in the background: commits and reads during a seal, and every crash point of a trailer write. */
import * as fs from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { isHandlertonError, NO_REFS, storageTransaction, type Tid } from '@handlerton/framework';
import type { FileStorage2 } from '../src/storage/filestorage2.js';
import { bytes, commit, loadText, openStorage, segmentFiles, tempDir } from './fs2-helpers.js';

const FOOTER_SIZE = 80;

test('commits, conflict checks and reads go on while the previous segment is being sealed', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const writes = Array.from({ length: 300 }, (_, i) => ({ oid: BigInt(i + 1), serial: 0n, data: `first ${i + 1}` }));
    const t1 = await commit(s, writes);
    const sealing = s.seal(); // not awaited: the next commit lands in the new segment
    const txn = storageTransaction({ description: 'during the seal' });
    await s.tpcBegin(txn);
    t.is(s.sealedSegmentCount, 0, 'the trailer is still being written');
    t.true(isHandlertonError(await t.throwsAsync(s.store(2n, 0n, { data: bytes('stale'), refs: NO_REFS }, txn)), 'HANDLERTON_CONFLICT'));
    await s.store(1n, t1, { data: bytes('second 1'), refs: NO_REFS }, txn);
    t.is(await loadText(s, 3n), 'first 3');
    await s.tpcVote(txn);
    const t2 = await s.tpcFinish(txn);
    t.is(await loadText(s, 2n), 'first 2');
    await sealing;
    t.is(s.sealedSegmentCount, 1);
    const check = async (st: FileStorage2): Promise<void> => {
      t.is(await loadText(st, 1n), 'second 1');
      t.is(await loadText(st, 300n), 'first 300');
      t.deepEqual((await st.history(1n, 5)).map((h) => h.tid), [t2, t1]);
      const tids: Tid[] = [];
      for await (const x of st.iterator()) tids.push(x.tid);
      t.deepEqual(tids, [t1, t2]);
    };
    await check(s);
    await s.close();
    const r = await openStorage(dir);
    await check(r);
    await r.close();
  } finally {
    await cleanup();
  }
});

/** Builds a storage whose first segment is sealed and second holds one more commit; returns the files' bytes. */
async function twoSegments(dir: string): Promise<{ t1: Tid; t2: Tid; first: string; original: Buffer }> {
  const s = await openStorage(dir);
  const t1 = await commit(s, Array.from({ length: 500 }, (_, i) => ({ oid: BigInt(i + 1), serial: 0n, data: `first ${i + 1} `.repeat(3) })));
  await s.seal();
  const t2 = await commit(s, [{ oid: 1n, serial: t1, data: 'second 1' }, { oid: 501n, serial: 0n, data: 'new 501' }]);
  await s.close();
  const first = join(dir, segmentFiles(dir)[0]!);
  return { t1, t2, first, original: fs.readFileSync(first) };
}

test('a crash at any point of a trailer write after commits moved on: open seals the segment again', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const { t1, t2, first, original } = await twoSegments(dir);
    const dataEnd = Number(original.readBigUInt64BE(original.length - FOOTER_SIZE + 8));
    const indexOff = Number(original.readBigUInt64BE(original.length - FOOTER_SIZE + 16));
    const footerAt = original.length - FOOTER_SIZE;
    const snapshot = segmentFiles(dir).map((name) => [name, fs.readFileSync(join(dir, name))] as const);
    const crashes: [string, Buffer][] = [
      ['nothing written after the data, preallocated zeros', Buffer.concat([original.subarray(0, dataEnd), Buffer.alloc(1 << 16)])],
      ['cut at the end of the data', original.subarray(0, dataEnd)],
      ['in the middle of the index pages', original.subarray(0, indexOff + 1000)],
      ['index pages written, preallocated zeros after them', Buffer.concat([original.subarray(0, indexOff + 4096), Buffer.alloc(1 << 16)])],
      ['everything but the footer', Buffer.concat([original.subarray(0, footerAt), Buffer.alloc(FOOTER_SIZE)])],
      ['half of the footer', Buffer.concat([original.subarray(0, footerAt + 40), Buffer.alloc(FOOTER_SIZE - 40)])],
    ];
    for (const [label, bytesOnDisk] of crashes) {
      t.deepEqual(segmentFiles(dir), snapshot.map(([name]) => name));
      fs.writeFileSync(first, bytesOnDisk);
      // a read-only open reads the unsealed segment through a scan and changes nothing
      const ro = await openStorage(dir, { readOnly: true });
      t.is(await loadText(ro, 2n), 'first 2 '.repeat(3), label);
      t.is(await loadText(ro, 1n), 'second 1', label);
      await ro.close();
      t.true(fs.readFileSync(first).equals(bytesOnDisk), `${label}: read-only open wrote nothing`);

      const r = await openStorage(dir);
      t.is(await loadText(r, 1n), 'second 1', label);
      t.is(await loadText(r, 500n), 'first 500 '.repeat(3), label);
      t.is(await loadText(r, 501n), 'new 501', label);
      t.deepEqual((await r.history(1n, 5)).map((h) => h.tid), [t2, t1], label);
      t.is(r.sealedSegmentCount, 1, label);
      t.is(r.lastTransaction(), t2, label);
      const t3 = await commit(r, [{ oid: 2n, serial: t1, data: 'third 2' }]);
      await r.close();
      t.true(fs.readFileSync(first).equals(original), `${label}: the segment was sealed again, byte for byte`);
      const again = await openStorage(dir);
      t.is(await loadText(again, 2n), 'third 2', label);
      t.is(again.lastTransaction(), t3, label);
      await again.close();
      for (const [name, content] of snapshot) fs.writeFileSync(join(dir, name), content); // back to the two-segment state
    }
  } finally {
    await cleanup();
  }
});

test('a damaged footer of an older segment is corruption, not an interrupted seal', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const { first, original } = await twoSegments(dir);
    const bad = Buffer.from(original);
    bad[original.length - 30]! ^= 0x10;
    fs.writeFileSync(first, bad);
    t.true(isHandlertonError(await t.throwsAsync(openStorage(dir)), 'HANDLERTON_CORRUPTION'));
    t.true(fs.readFileSync(first).equals(bad), 'nothing was rewritten');
  } finally {
    await cleanup();
  }
});

test('only the segment before the last can be an interrupted seal: an older one without its footer is corruption', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    let serial = 0n;
    for (let i = 0; i < 3; i++) {
      serial = await commit(s, [{ oid: 1n, serial, data: `round ${i}` }]);
      await s.seal();
    }
    await s.close();
    const names = segmentFiles(dir);
    t.true(names.length >= 3, 'three sealed segments and the active one');
    const oldest = join(dir, names[0]!);
    const original = fs.readFileSync(oldest);
    // the footer magic gone: what an interrupted seal would leave, but two segments back
    const bad = Buffer.concat([original.subarray(0, original.length - FOOTER_SIZE), Buffer.alloc(FOOTER_SIZE)]);
    fs.writeFileSync(oldest, bad);
    const err = await t.throwsAsync(openStorage(dir));
    t.true(isHandlertonError(err, 'HANDLERTON_CORRUPTION'));
    t.true(err!.message.includes('no valid footer'));
    t.true(fs.readFileSync(oldest).equals(bad), 'nothing was rewritten');
  } finally {
    await cleanup();
  }
});

test('a crash while the trailer is being written: the next open seals the segment again', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const t1 = await commit(s, Array.from({ length: 300 }, (_, i) => ({ oid: BigInt(i + 1), serial: 0n, data: `first ${i + 1}` })));
    const sealing = s.seal();
    const txn = storageTransaction({ description: 'lost' });
    await s.tpcBegin(txn); // the commit lock comes back once commits moved on to the next segment
    t.is(s.sealedSegmentCount, 0, 'the trailer is not written yet');
    await s.simulateCrash();
    await t.throwsAsync(sealing);
    const first = join(dir, segmentFiles(dir)[0]!);
    const r = await openStorage(dir);
    t.is(r.sealedSegmentCount, 1);
    t.is(await loadText(r, 1n), 'first 1');
    t.is(await loadText(r, 300n), 'first 300');
    t.is(r.lastTransaction(), t1);
    await r.close();
    const bytesOnDisk = fs.readFileSync(first);
    t.deepEqual(bytesOnDisk.subarray(bytesOnDisk.length - FOOTER_SIZE, bytesOnDisk.length - FOOTER_SIZE + 8), Buffer.from('HFS2IDX\0', 'latin1'));
  } finally {
    await cleanup();
  }
});

test('sealing an index filled out of oid order, with oids below and above 2^32 and 2^53', async (t) => {
  for (const oids of [
    [9n, 3n, 7n, 1n, 8n, 2n],
    [2n ** 40n + 5n, 3n, 2n ** 40n + 1n, 1n, 2n ** 32n],
    [2n ** 60n + 1n, 2n ** 40n, 5n, 2n ** 60n, 4n],
  ]) {
    const { dir, cleanup } = await tempDir();
    try {
      const s = await openStorage(dir);
      for (const oid of oids) await commit(s, [{ oid, serial: 0n, data: `object ${oid}` }]);
      await s.seal();
      t.is(s.sealedSegmentCount, 1);
      for (const oid of oids) t.is(await loadText(s, oid), `object ${oid}`);
      await s.close();
    } finally {
      await cleanup();
    }
  }
});

test('a truncated transaction in the segment before the last is corruption, not an interrupted seal to cut (corruption sweep)', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const t1 = await commit(s, [{ oid: 1n, serial: 0n, data: 'first 1' }]);
    await commit(s, [{ oid: 2n, serial: 0n, data: 'synced before the seal '.repeat(20) }]);
    await s.seal();
    await commit(s, [{ oid: 1n, serial: t1, data: 'second 1' }]);
    await s.close();
    const first = join(dir, segmentFiles(dir)[0]!);
    const original = fs.readFileSync(first);
    const dataEnd = Number(original.readBigUInt64BE(original.length - FOOTER_SIZE + 8));
    for (const [label, bad] of [
      ['cut inside the last transaction', original.subarray(0, dataEnd - 100)],
      ['the last transaction damaged, its trailer and footer gone', Buffer.concat([original.subarray(0, dataEnd - 100), Buffer.alloc(100, 0x41)])],
    ] as const) {
      fs.writeFileSync(first, bad);
      const err = await t.throwsAsync(openStorage(dir), undefined, label);
      t.true(isHandlertonError(err, 'HANDLERTON_CORRUPTION'), `${label}: ${String(err)}`);
      t.true(err!.message.includes(first), label);
      t.true(fs.readFileSync(first).equals(bad), `${label}: nothing was rewritten`);
    }
  } finally {
    await cleanup();
  }
});
