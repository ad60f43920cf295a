import * as fs from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { isHandlertonError, type CorruptionError } from '@handlerton/framework';
import { commit, loadText, openStorage, segmentFiles, tempDir } from './fs2-helpers.js';

/** End of the data in a preallocated active segment: after the last non-zero byte. */
function dataEnd(file: Buffer): number {
  let end = file.length;
  while (end > 0 && file[end - 1] === 0) end--;
  return end;
}

test('a torn last transaction is cut off at every byte offset, zero-filled or truncated', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const tid1 = await commit(s, [{ oid: 1n, serial: 0n, data: 'one' }, { oid: 2n, serial: 0n, data: 'two' }]);
    const tid2 = await commit(s, [{ oid: 1n, serial: tid1, data: 'uno' }, { oid: 3n, serial: 0n, data: '3' }], 'last');
    await s.close();
    const name = segmentFiles(dir)[0]!;
    const path = join(dir, name);
    const original = fs.readFileSync(path);
    const end = dataEnd(original);
    const lastLen = original.readUInt32BE(end - 4);
    const start = end - lastLen;
    t.true(lastLen > 100);
    let checked = 0;
    for (let cut = start; cut < end; cut++) {
      // every offset truncated; every third offset also as a zero-filled (preallocated) tail
      for (const mode of cut % 3 === 0 ? (['truncate', 'zero'] as const) : (['truncate'] as const)) {
        const copy = Buffer.from(original);
        if (mode === 'zero') {
          copy.fill(0, cut);
          fs.writeFileSync(path, copy);
        } else {
          fs.writeFileSync(path, copy.subarray(0, cut));
        }
        const r = await openStorage(dir);
        t.is(r.lastTransaction(), tid1, `cut at ${cut} (${mode})`);
        t.is(await loadText(r, 1n), 'one');
        t.is(await loadText(r, 3n), null);
        await r.close();
        if (mode === 'truncate') t.is(fs.statSync(path).size, start, 'torn tail truncated');
        checked++;
      }
    }
    t.true(checked >= lastLen);
    // the intact file still holds both commits, and the storage keeps working after a recovery
    fs.writeFileSync(path, original);
    const r = await openStorage(dir);
    t.is(r.lastTransaction(), tid2);
    t.is(await loadText(r, 1n), 'uno');
    await r.close();
    fs.writeFileSync(path, original.subarray(0, start + 7));
    const w = await openStorage(dir);
    const tid3 = await commit(w, [{ oid: 4n, serial: 0n, data: 'four' }]);
    await w.close();
    const z = await openStorage(dir);
    t.is(z.lastTransaction(), tid3);
    t.is(await loadText(z, 4n), 'four');
    t.is(await loadText(z, 3n), null);
    await z.close();
  } finally {
    await cleanup();
  }
});

test('a bit flip in the middle of the active segment is corruption, with file and offset', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    let serial = 0n;
    for (let i = 0; i < 4; i++) serial = await commit(s, [{ oid: 1n, serial, data: `value ${i}`.repeat(10) }]);
    await s.close();
    const path = join(dir, segmentFiles(dir)[0]!);
    const file = fs.readFileSync(path);
    const end = dataEnd(file);
    const flipAt = 64 + Math.floor((end - 64) / 3); // inside the second transaction
    file[flipAt]! ^= 0x10;
    fs.writeFileSync(path, file);
    const err = await t.throwsAsync(openStorage(dir));
    t.true(isHandlertonError(err, 'HANDLERTON_CORRUPTION'));
    t.is((err as CorruptionError).file, path);
    t.true(typeof (err as CorruptionError).offset === 'number' && (err as CorruptionError).offset! <= flipAt);
    // the lock was released by the failed open
    t.false(fs.existsSync(join(dir, 'LOCK')));
  } finally {
    await cleanup();
  }
});

test('damage in a sealed segment is reported, never read as data', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const writes = [];
    for (let i = 0n; i < 300n; i++) writes.push({ oid: i, serial: 0n, data: `object ${i} `.repeat(4) });
    await commit(s, writes);
    await s.seal();
    await s.close();
    const path = join(dir, segmentFiles(dir)[0]!);
    const original = fs.readFileSync(path);
    const dataEndOff = Number(original.readBigUInt64BE(original.length - 80 + 8));
    const indexOff = Number(original.readBigUInt64BE(original.length - 80 + 16));

    // 1. a data byte: open works (sealed data is not scanned); reading that record fails
    const flipped = Buffer.from(original);
    const needle = Buffer.from('object 123 ');
    const at = flipped.indexOf(needle);
    flipped[at + 3]! ^= 0x01;
    fs.writeFileSync(path, flipped);
    let r = await openStorage(dir);
    const err = await t.throwsAsync(r.load(123n));
    t.true(isHandlertonError(err, 'HANDLERTON_CORRUPTION'));
    t.is((err as CorruptionError).file, path);
    t.is(await loadText(r, 7n), 'object 7 '.repeat(4));
    await t.throwsAsync(async () => {
      for await (const _ of r.iterator()) void _;
    });
    await r.close();

    // 2. an index page byte: the page checksum catches it
    const badIndex = Buffer.from(original);
    badIndex[indexOff + 40]! ^= 0x04;
    fs.writeFileSync(path, badIndex);
    r = await openStorage(dir);
    t.true(isHandlertonError(await t.throwsAsync(r.load(1n)), 'HANDLERTON_CORRUPTION'));
    await r.close();

    // 3. the bloom/fence region or the footer: open fails
    for (const off of [original.length - 90, original.length - 20]) {
      const bad = Buffer.from(original);
      bad[off]! ^= 0x80;
      fs.writeFileSync(path, bad);
      t.true(isHandlertonError(await t.throwsAsync(openStorage(dir)), 'HANDLERTON_CORRUPTION'), `flip at ${off}`);
    }
    t.true(dataEndOff > 64);
  } finally {
    await cleanup();
  }
});

test('crash points of seal and pack: a sealed newest segment, leftover pack inputs and temporary files', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const a = await commit(s, [{ oid: 1n, serial: 0n, data: 'a' }, { oid: 2n, serial: 0n, data: 'two' }]);
    await s.seal();
    const b = await commit(s, [{ oid: 1n, serial: a, data: 'b' }]);
    await s.seal();
    await s.close();
    // crash after a seal's fsync, before the next active segment was created
    const files = segmentFiles(dir);
    t.is(files.length, 3);
    fs.unlinkSync(join(dir, files[2]!));
    const inputs = files.slice(0, 2).map((n) => ({ n, bytes: fs.readFileSync(join(dir, n)) }));
    let r = await openStorage(dir);
    t.is(await loadText(r, 1n), 'b');
    t.is(segmentFiles(dir).length, 3, 'a new active segment was created');
    // crash after a pack's rename, before its inputs were removed; plus a stray temporary file
    await r.pack(b);
    await r.close();
    for (const { n, bytes } of inputs) fs.writeFileSync(join(dir, n), bytes);
    fs.writeFileSync(join(dir, 'seg-0000000000000009-g3.fs2.tmp'), 'half written');
    r = await openStorage(dir);
    t.false(segmentFiles(dir).includes(inputs[0]!.n), 'superseded inputs are removed at open');
    t.false(fs.readdirSync(dir).some((n) => n.endsWith('.tmp')));
    t.is(await loadText(r, 1n), 'b');
    t.is(await loadText(r, 2n), 'two');
    t.true(isHandlertonError(await t.throwsAsync(r.loadSerial(1n, a)), 'HANDLERTON_POS_KEY'));
    t.is(r.lastTransaction(), b);
    await r.close();
  } finally {
    await cleanup();
  }
});
