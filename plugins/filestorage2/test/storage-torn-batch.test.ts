/**
 * Torn group-commit batches (FORMAT.md §9): a crash during a batch's fdatasync may keep a later
 * transaction of the batch and lose an earlier one. Recovery cuts such a batch as a torn tail;
 * damage before a recorded sync boundary stays CorruptionError.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import test from 'ava';
import { isHandlertonError, silentLogger, systemClock, type CorruptionError, type FileSystem, type Logger, type Tid } from '@handlerton/framework';
import { parseFileStorage2Options } from '../src/filestorage2-config.js';
import { FileStorage2 } from '../src/storage/filestorage2.js';
import { commit, loadText, openStorage, segmentFiles, tempDir } from './fs2-helpers.js';

/** One transaction found in a segment file. */
interface TxnAt {
  readonly off: number;
  readonly len: number;
  readonly flags: number;
  readonly tid: bigint;
}

/** The transactions of a segment file, walked from offset 64 by their lengths (up to zeros or a trailer). */
function txnsOf(file: Buffer): TxnAt[] {
  const out: TxnAt[] = [];
  for (let off = 64; off + 8 <= file.length && file.readUInt32BE(off) === 0x54584e32; ) {
    const len = file.readUInt32BE(off + 4);
    out.push({ off, len, flags: file[off + 17]!, tid: file.readBigUInt64BE(off + 8) });
    off += len;
  }
  return out;
}

/** Zeroes one 512-byte sector lying wholly inside the transaction (a page the disk lost). */
function loseSectorOf(file: Buffer, txn: TxnAt): Buffer {
  const copy = Buffer.from(file);
  const sector = Math.ceil((txn.off + 1) / 512) * 512;
  if (sector + 512 > txn.off + txn.len) throw new Error('transaction too short for a whole sector');
  copy.fill(0, sector, sector + 512);
  return copy;
}

/** A file system whose fdatasync takes `delayMs` on the thread pool; counts writev calls by buffer count. */
function slowSyncFs(delayMs: number): { fsImpl: FileSystem; batches: number[] } {
  const batches: number[] = [];
  const fsImpl = {
    ...fs,
    fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void) {
      setTimeout(() => fs.fdatasync(fd, cb), delayMs);
    },
    writev: ((fd: number, buffers: NodeJS.ArrayBufferView[], position: number, cb: (err: NodeJS.ErrnoException | null, n: number) => void) => {
      batches.push(buffers.length);
      fs.writev(fd, buffers, position, cb);
    }) as unknown as typeof fs.writev,
  } as unknown as FileSystem;
  return { fsImpl, batches };
}

interface Built {
  readonly path: string;
  readonly a: Tid;
  readonly b: Tid;
  readonly c: Tid[];
  readonly storage: FileStorage2;
}

/**
 * Commits A, then B alone, then C1..C4 (new oids 11..14) while B's (slow) fdatasync runs: C1..C4
 * are written by one writev and synced by one fdatasync (one batch). Returns with the storage open.
 */
async function buildBatch(dir: string, t: { true(v: boolean, m?: string): void }, options: Record<string, unknown> = {}): Promise<Built> {
  const { fsImpl, batches } = slowSyncFs(60);
  const storage = await openStorage(dir, { inlineSync: false, ...options }, fsImpl);
  const a = await commit(storage, [{ oid: 1n, serial: 0n, data: 'a' }]);
  const pb = commit(storage, [{ oid: 1n, serial: a, data: 'b' }, { oid: 2n, serial: 0n, data: 'two' }]);
  await new Promise((r) => setTimeout(r, 5)); // B is written, its fdatasync runs
  const pc = [1, 2, 3, 4].map((i) => commit(storage, [{ oid: BigInt(10 + i), serial: 0n, data: `c${i} ${BIG}` }]));
  const b = await pb;
  const c = await Promise.all(pc);
  t.true(batches.includes(4), `C1..C4 were written as one batch (writev sizes ${batches.join(',')})`);
  return { path: join(dir, segmentFiles(dir)[0]!), a, b, c, storage };
}

const BIG = 'x'.repeat(2000);

/** An engine context logging warnings into `warnings`. */
function capturingContext(warnings: object[]): { clock: typeof systemClock; logger: Logger; fs: FileSystem } {
  const logger: Logger = { ...silentLogger, warn: (obj: object | string) => void warnings.push(typeof obj === 'string' ? { msg: obj } : obj), child: () => logger };
  return { clock: systemClock, logger, fs };
}

async function tids(s: FileStorage2): Promise<bigint[]> {
  const out: bigint[] = [];
  for await (const txn of s.iterator()) out.push(txn.tid);
  return out;
}

test('always mode: the first transaction of every write batch records that everything before it was synced', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const { storage, path, a, b, c } = await buildBatch(dir, t);
    const e = await commit(storage, [{ oid: 20n, serial: 0n, data: 'e' }]);
    await storage.simulateCrash();
    const found = txnsOf(fs.readFileSync(path));
    t.deepEqual(found.map((x) => x.tid), [a, b, ...c, e]);
    t.deepEqual(found.map((x) => x.flags), [1, 1, 1, 0, 0, 0, 1]);
  } finally {
    await cleanup();
  }
});

for (const lost of [0, 1] as const) {
  test(`a torn last batch (C${lost + 1} lost, later transactions of the batch kept) is cut at open; the storage goes on`, async (t) => {
    const { dir, cleanup } = await tempDir();
    try {
      const { storage, path, a, b, c } = await buildBatch(dir, t);
      await storage.simulateCrash();
      const file = fs.readFileSync(path);
      const found = txnsOf(file);
      t.is(found.length, 6);
      const damaged = found[2 + lost]!;
      fs.writeFileSync(path, loseSectorOf(file, damaged));

      const kept = [a, b, ...c.slice(0, lost)];
      // a read-only open reads up to the damage and changes nothing
      const ro = await openStorage(dir, { readOnly: true });
      t.deepEqual(await tids(ro), kept);
      await ro.close();
      t.is(fs.statSync(path).size, file.length);

      const warnings: object[] = [];
      const r = await FileStorage2.open(parseFileStorage2Options(dir, {}), capturingContext(warnings));
      t.is(r.lastTransaction(), kept[kept.length - 1]!);
      t.deepEqual(await tids(r), kept);
      t.is(await loadText(r, 1n), 'b');
      t.is(await loadText(r, 2n), 'two');
      for (let i = 1; i <= 4; i++) t.is(await loadText(r, BigInt(10 + i)) !== null, i <= lost, `oid ${10 + i}`);
      t.is(fs.statSync(path).size, damaged.off, 'the torn batch was cut off');
      t.is(warnings.length, 1);
      t.like(warnings[0], { file: path, offset: damaged.off, transactions: 3 - lost, bytes: found[5]!.off + found[5]!.len - damaged.off });

      // new commits land after the cut and survive a clean reopen
      const d = await commit(r, [{ oid: 14n, serial: 0n, data: 'd' }]);
      await r.close();
      const z = await openStorage(dir);
      t.deepEqual(await tids(z), [...kept, d]);
      t.is(await loadText(z, 14n), 'd');
      t.is(await loadText(z, 13n), null);
      await z.close();
    } finally {
      await cleanup();
    }
  });
}

test('damage followed by a later batch that records a completed sync stays CorruptionError (file, offset)', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const { storage, path } = await buildBatch(dir, t);
    await commit(storage, [{ oid: 20n, serial: 0n, data: 'e' }]); // a later batch, written after C's fdatasync
    await storage.simulateCrash();
    const file = fs.readFileSync(path);
    const found = txnsOf(file);
    for (const damaged of [found[2]!, found[3]!, found[4]!]) {
      fs.writeFileSync(path, loseSectorOf(file, damaged));
      const err = await t.throwsAsync(openStorage(dir));
      t.true(isHandlertonError(err, 'HANDLERTON_CORRUPTION'));
      t.is((err as CorruptionError).file, path);
      t.is((err as CorruptionError).offset, damaged.off);
      t.false(fs.existsSync(join(dir, 'LOCK')));
      t.is(fs.statSync(path).size, file.length, 'nothing was cut');
    }
  } finally {
    await cleanup();
  }
});

test('a segment without the sync-marks header flag (written before it existed) keeps the strict rule', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const { storage, path } = await buildBatch(dir, t);
    await storage.simulateCrash();
    const file = fs.readFileSync(path);
    t.is(file.readUInt16BE(10), 2, 'new segments carry the sync-marks flag');
    const old = loseSectorOf(file, txnsOf(file)[2]!);
    old.writeUInt16BE(0, 10);
    old.writeUInt32BE(crc32(old.subarray(0, 60)), 60);
    fs.writeFileSync(path, old);
    const err = await t.throwsAsync(openStorage(dir));
    t.true(isHandlertonError(err, 'HANDLERTON_CORRUPTION'));
    t.is((err as CorruptionError).offset, txnsOf(file)[2]!.off);
    // the undamaged old-format segment opens and takes commits
    const intact = Buffer.from(file);
    intact.writeUInt16BE(0, 10);
    intact.writeUInt32BE(crc32(intact.subarray(0, 60)), 60);
    fs.writeFileSync(path, intact);
    const r = await openStorage(dir);
    t.is(await loadText(r, 14n), `c4 ${BIG}`);
    await r.close();
  } finally {
    await cleanup();
  }
});

test('a segment whose seal was interrupted was synced before commits moved on: a damaged batch in it is CorruptionError', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const { storage, path } = await buildBatch(dir, t);
    await storage.seal();
    await commit(storage, [{ oid: 30n, serial: 0n, data: 'next segment' }]);
    await storage.simulateCrash();
    const sealed = fs.readFileSync(path);
    const dataEnd = Number(sealed.readBigUInt64BE(sealed.length - 80 + 8));
    const unsealed = sealed.subarray(0, dataEnd); // as if the crash came before the trailer was written
    const found = txnsOf(unsealed);
    t.deepEqual(found.map((x) => x.flags), [1, 1, 1, 0, 0, 0]);
    fs.writeFileSync(path, loseSectorOf(unsealed, found[3]!));
    const err = await t.throwsAsync(openStorage(dir));
    t.true(isHandlertonError(err, 'HANDLERTON_CORRUPTION'));
    t.is((err as CorruptionError).file, path);
    t.is((err as CorruptionError).offset, found[3]!.off);
    // control: the same interrupted seal without damage is sealed again at open
    fs.writeFileSync(path, unsealed);
    const r = await openStorage(dir);
    t.is(await loadText(r, 14n), `c4 ${BIG}`);
    t.is(await loadText(r, 30n), 'next segment');
    await r.close();
  } finally {
    await cleanup();
  }
});

test('batch mode: no write is issued while an fdatasync of the segment runs, and syncs are recorded as boundaries', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    // the first segment's descriptor (the next one's preparation has its own writes and fdatasyncs)
    let segFd = -1;
    let syncing = false;
    let overlaps = 0;
    let syncs = 0;
    const watched = {
      ...fs,
      openSync: ((path: fs.PathLike, ...rest: unknown[]) => {
        const fd = (fs.openSync as (...a: unknown[]) => number)(path, ...rest);
        if (String(path).includes('seg-0000000000000001-g0')) segFd = fd;
        return fd;
      }) as typeof fs.openSync,
      fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void) {
        if (fd !== segFd) return fs.fdatasync(fd, cb);
        syncing = true;
        syncs++;
        setTimeout(() => fs.fdatasync(fd, (err) => {
          syncing = false;
          cb(err);
        }), 8);
      },
      writeSync: ((fd: number, ...rest: unknown[]) => {
        if (fd === segFd && syncing) overlaps++;
        return (fs.writeSync as (...a: unknown[]) => number)(fd, ...rest);
      }) as typeof fs.writeSync,
      writev: ((fd: number, ...rest: unknown[]) => {
        if (fd === segFd && syncing) overlaps++;
        (fs.writev as (...a: unknown[]) => void)(fd, ...rest);
      }) as typeof fs.writev,
    } as unknown as FileSystem;
    const s = await openStorage(dir, { syncMode: 'batch', segmentSize: 1 << 30 }, watched);
    let next = 1n;
    const deadline = Date.now() + 20_000;
    // commit until several timer syncs ran (however slow the machine is)
    const committer = async (): Promise<void> => {
      while (syncs < 5 && Date.now() < deadline) {
        const oid = next++;
        await commit(s, [{ oid, serial: 0n, data: `v${oid}` }]);
        if (oid % 3n === 0n) await new Promise((r) => setTimeout(r, 1));
      }
    };
    await Promise.all(Array.from({ length: 4 }, committer));
    await s.simulateCrash();
    const found = txnsOf(fs.readFileSync(join(dir, segmentFiles(dir)[0]!)));
    t.is(found.length, Number(next - 1n));
    t.true(syncs >= 5, `timer syncs ran (${syncs})`);
    t.is(overlaps, 0, 'a batch was written while an fdatasync of its file ran');
    // the segment's first batch, and the batch after each of the (at least 4) completed syncs
    const marked = found.filter((x) => x.flags === 1).length;
    t.true(marked >= 5, `sync boundaries recorded (${marked} of ${found.length})`);
  } finally {
    await cleanup();
  }
});
