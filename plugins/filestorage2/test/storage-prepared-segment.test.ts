/** The next segment prepared ahead of time: zero-filled in the background, adopted at the switch, removed when not used. */
import * as fs from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { FileStorage2 } from '../src/storage/filestorage2.js';
import { commit, loadText, openStorage, segmentFiles, tempDir } from './fs2-helpers.js';

const SEGMENT = 256 * 1024;

function payload(oid: bigint): string {
  return `object ${oid} `.padEnd(400, '.');
}

async function fill(s: FileStorage2, from: bigint, txns: number): Promise<bigint> {
  let oid = from;
  for (let i = 0; i < txns; i++) {
    const writes = Array.from({ length: 10 }, (_, k) => ({ oid: oid + BigInt(k), serial: 0n, data: payload(oid + BigInt(k)) }));
    await commit(s, writes);
    oid += 10n;
  }
  return oid;
}

function tmpFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));
}

test('segments after the first are zero-filled ahead of the commits and every record survives a reopen', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    // every new segment is published by a rename of its .tmp file: note how much of it was written
    const published: number[] = [];
    const watching = {
      ...fs,
      renameSync: ((from: fs.PathLike, to: fs.PathLike) => {
        if (String(from).endsWith('.fs2.tmp')) published.push(fs.statSync(from).blocks * 512);
        fs.renameSync(from, to);
      }) as typeof fs.renameSync,
    };
    let s = await openStorage(dir, { segmentSize: SEGMENT }, watching);
    const next = await fill(s, 1n, 300); // ~1.2 MiB: several segments
    t.true(segmentFiles(dir).length >= 4, `${segmentFiles(dir).length} segments`);
    t.true(
      published.some((bytes) => bytes >= SEGMENT),
      `a later segment was zero-filled before it took commits (written bytes at publication: ${published.join(', ')})`,
    );
    for (let oid = 1n; oid < next; oid += 37n) t.is(await loadText(s, oid), payload(oid));
    await s.close();
    t.deepEqual(tmpFiles(dir), [], 'close removes a preparation that was not used');
    const last = fs.readFileSync(join(dir, segmentFiles(dir).at(-1)!));
    t.true(last.length < SEGMENT, 'close cuts the unused zeros of the active segment');
    t.is(last.readUInt32BE(last.length - 4), last.readUInt32BE(last.length - last.readUInt32BE(last.length - 4) + 4), 'it ends with a whole transaction');
    s = await openStorage(dir);
    for (let oid = 1n; oid < next; oid += 7n) t.is(await loadText(s, oid), payload(oid));
    await s.close();
  } finally {
    await cleanup();
  }
});

test('a crash while the next segment is being prepared leaves a .tmp file that open removes', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    let s = await openStorage(dir, { segmentSize: SEGMENT });
    let end = 1n;
    for (let i = 0; i < 100 && tmpFiles(dir).length === 0; i++) end = await fill(s, end, 1);
    t.deepEqual(tmpFiles(dir).length, 1, 'a preparation is under way');
    await s.simulateCrash();
    t.deepEqual(tmpFiles(dir).length, 1, 'a killed process leaves its preparation behind');
    s = await openStorage(dir);
    t.deepEqual(tmpFiles(dir), []);
    for (let oid = 1n; oid < end; oid += 3n) t.is(await loadText(s, oid), payload(oid));
    const more = await fill(s, end, 200);
    for (let oid = 1n; oid < more; oid += 11n) t.is(await loadText(s, oid), payload(oid));
    await s.close();
    t.deepEqual(tmpFiles(dir), []);
  } finally {
    await cleanup();
  }
});

test('a failing preparation is dropped: commits and seals go on without it', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    let failures = 0;
    const failing = {
      ...fs,
      writev: ((fd: number, buffers: NodeJS.ArrayBufferView[], position: number | null, cb: (err: NodeJS.ErrnoException | null, written: number) => void) => {
        const path = fs.readlinkSync(`/proc/self/fd/${fd}`);
        if (path.endsWith('.fs2.tmp')) {
          failures++;
          const err: NodeJS.ErrnoException = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          setImmediate(() => cb(err, 0));
          return;
        }
        fs.writev(fd, buffers, position, cb);
      }) as typeof fs.writev,
    };
    let s = await openStorage(dir, { segmentSize: SEGMENT }, failing);
    const end = await fill(s, 1n, 200);
    t.true(failures >= 1, 'the preparation was tried');
    t.true(segmentFiles(dir).length >= 2, 'seals still switch to new segments');
    await s.close();
    t.deepEqual(tmpFiles(dir), []);
    s = await openStorage(dir);
    for (let oid = 1n; oid < end; oid += 13n) t.is(await loadText(s, oid), payload(oid));
    await s.close();
  } finally {
    await cleanup();
  }
});
