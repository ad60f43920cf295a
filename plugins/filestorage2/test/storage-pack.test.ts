import * as fs from 'node:fs';
import test from 'ava';
import { isHandlertonError, type BlobRef, type FileSystem } from '@handlerton/framework';
import { parseFileStorage2Options } from '../src/filestorage2-config.js';
import { commit, loadText, openStorage, segmentFiles, tempDir, text } from './fs2-helpers.js';

const blob = (id: bigint, revision: bigint): BlobRef => ({ handlerton: 'filestorage2', blobId: id, revision });

test('pack keeps current and newer revisions, drops older ones and deleted objects, reports blob refs', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    const a1 = await commit(s, [
      { oid: 1n, serial: 0n, data: 'a1', refs: { oids: [], blobs: [blob(7n, 1n)] } },
      { oid: 2n, serial: 0n, data: 'b1' },
      { oid: 3n, serial: 0n, data: 'c1', refs: { oids: [], blobs: [blob(9n, 1n)] } },
    ]);
    await s.seal();
    const a2 = await commit(s, [{ oid: 1n, serial: a1, data: 'a2' }, { oid: 3n, serial: a1, data: null }]);
    await s.seal();
    const a3 = await commit(s, [{ oid: 1n, serial: a2, data: 'a3' }]);
    const packAt = s.lastTransaction();
    const a4 = await commit(s, [{ oid: 1n, serial: a3, data: 'a4' }]); // after the pack time: kept with its predecessor
    await s.seal();
    t.is(s.sealedSegmentCount, 3);
    const released: BlobRef[] = [];
    const result = await s.pack(packAt, { releaseBlobRefs: async (refs) => void released.push(...refs) });
    t.is(s.sealedSegmentCount, 1);
    // removed: a1, a2 (oid 1), c1 + delete marker (oid 3)
    t.is(result.removedRevisions, 4);
    t.is(result.removedObjects, 1);
    t.true(result.reclaimedBytes > 0);
    t.deepEqual(
      released.map((r) => r.blobId).sort(),
      [7n, 9n],
    );
    const check = async (st: typeof s): Promise<void> => {
      t.is(await loadText(st, 1n), 'a4');
      t.is(text((await st.loadSerial(1n, a3)).data), 'a3');
      t.true(isHandlertonError(await t.throwsAsync(st.loadSerial(1n, a2)), 'HANDLERTON_POS_KEY'));
      t.true(isHandlertonError(await t.throwsAsync(st.loadSerial(1n, a1)), 'HANDLERTON_POS_KEY'));
      t.is(await loadText(st, 2n), 'b1');
      t.true(isHandlertonError(await t.throwsAsync(st.load(3n)), 'HANDLERTON_POS_KEY'));
      t.true(isHandlertonError(await t.throwsAsync(st.loadBefore(3n, a2)), 'HANDLERTON_POS_KEY'));
      const before = await st.loadBefore(1n, a4);
      t.is(before?.tid, a3);
      t.is(before?.nextTid, a4);
      t.is(await st.loadBefore(1n, a3), null);
      const txns = [];
      for await (const txn of st.iterator()) txns.push(txn);
      t.deepEqual(txns.map((x) => x.tid), [a1, a3, a4]);
      t.deepEqual(txns.map((x) => x.status), ['p', 'p', ' ']);
      t.is((await st.history(1n, 10)).length, 2);
    };
    await check(s);
    await s.close();
    const files = segmentFiles(dir);
    t.is(files.length, 2);
    t.regex(files[0]!, /-g1\.fs2$/);
    t.false(fs.readdirSync(dir).some((n) => n.endsWith('.tmp')));
    const r = await openStorage(dir);
    t.is(r.lastTransaction(), a4);
    await check(r);
    // a second pack to the same time removes nothing more
    const again = await r.pack(packAt);
    t.is(again.removedRevisions, 0);
    await check(r);
    await r.close();
  } finally {
    await cleanup();
  }
});

test('pack seals the active segment first and packs an empty storage to nothing', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir);
    t.deepEqual(await s.pack(0n), { removedRevisions: 0, removedObjects: 0, reclaimedBytes: 0 });
    const x1 = await commit(s, [{ oid: 1n, serial: 0n, data: 'x1' }]);
    const x2 = await commit(s, [{ oid: 1n, serial: x1, data: 'x2' }]);
    const result = await s.pack(x2 + 1000n); // future pack time: clamped to now
    t.is(result.removedRevisions, 1);
    t.is(await loadText(s, 1n), 'x2');
    const y = await commit(s, [{ oid: 1n, serial: x2, data: 'y' }]);
    t.is(await loadText(s, 1n), 'y');
    await s.close();
    const r = await openStorage(dir);
    t.is(r.lastTransaction(), y);
    t.is(await loadText(r, 1n), 'y');
    await r.close();
  } finally {
    await cleanup();
  }
});

test('commits, reads and an iterator go on during a pack; nothing is lost', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir, { segmentSize: 16 * 1024 });
    const serials = new Map<bigint, bigint>();
    const expected = new Map<bigint, string>();
    const put = async (oids: bigint[], tag: string): Promise<void> => {
      const writes = oids.map((oid) => ({
        oid,
        serial: serials.get(oid) ?? 0n,
        data: `${tag}:${oid}:${'p'.repeat(100)}`,
        refs: { oids: [], blobs: [blob(oid, 1n)] },
      }));
      const tid = await commit(s, writes);
      for (const w of writes) {
        serials.set(w.oid, tid);
        expected.set(w.oid, w.data);
      }
    };
    for (let round = 0; round < 40; round++) {
      await put(Array.from({ length: 20 }, (_, i) => BigInt((round * 7 + i) % 200)), `pre${round}`);
    }
    t.true(s.sealedSegmentCount >= 3);
    const iter = s.iterator()[Symbol.asyncIterator]();
    const firstTxn = await iter.next();
    t.false(firstTxn.done);
    // the observer runs inside the pack (phase 2): commits and reads made there prove they go on during a pack
    let insidePack = 0;
    const observer = {
      releaseBlobRefs: async (): Promise<void> => {
        if (insidePack > 0) return;
        for (let k = 0; k < 3; k++) {
          await put([BigInt(500 + k)], `inside-pack-${k}`);
          t.is(await loadText(s, BigInt(500 + k)), expected.get(BigInt(500 + k))!);
          insidePack++;
        }
      },
    };
    const packing = s.pack(s.lastTransaction(), observer);
    t.true(isHandlertonError(await t.throwsAsync(s.pack(s.lastTransaction())), 'HANDLERTON_PACK_IN_PROGRESS'));
    // 32 concurrent committers on disjoint oids while the pack runs, plus reads
    const committers = Array.from({ length: 32 }, async (_, c) => {
      for (let k = 0; k < 3; k++) await put([BigInt(c), BigInt(1000 + c)], `during${c}-${k}`);
      t.is(await loadText(s, BigInt(1000 + c)), expected.get(BigInt(1000 + c))!);
    });
    await Promise.all([packing, ...committers]);
    t.is(insidePack, 3, 'three commits (each durable and read back) completed inside the running pack');
    let rest = 1;
    for (let n = await iter.next(); !n.done; n = await iter.next()) rest++;
    t.is(rest, 40, 'the iterator started before the pack reads its snapshot to the end');
    // the replaced segments go once their last reader (the iterator) is done
    t.true(segmentFiles(dir).some((n) => n.endsWith('-g1.fs2')));
    t.false(segmentFiles(dir).some((n) => n.startsWith('seg-0000000000000001-g0')));
    for (const [oid, value] of expected) t.is(await loadText(s, oid), value);
    await s.close();
    const r = await openStorage(dir);
    for (const [oid, value] of expected) t.is(await loadText(r, oid), value);
    await r.close();
  } finally {
    await cleanup();
  }
});

test('a pack whose output cannot be synced fails typed, leaves no temporary file, and the storage keeps serving', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const paths = new Map<number, string>();
    let failPackOutput = false;
    const faulty = {
      ...fs,
      openSync(path: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode | null) {
        const fd = fs.openSync(path, flags, mode);
        paths.set(fd, String(path));
        return fd;
      },
      fsync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void) {
        if (failPackOutput && (paths.get(fd) ?? '').endsWith('-g1.fs2.tmp')) {
          const err: NodeJS.ErrnoException = new Error('ENOSPC: injected, fsync');
          err.code = 'ENOSPC';
          setImmediate(() => cb(err));
        } else {
          fs.fsync(fd, cb);
        }
      },
    } as unknown as FileSystem;
    const s = await openStorage(dir, {}, faulty);
    const a = await commit(s, [{ oid: 1n, serial: 0n, data: 'a' }]);
    const b = await commit(s, [{ oid: 1n, serial: a, data: 'b' }]);
    await s.seal();
    failPackOutput = true;
    const err = await t.throwsAsync(s.pack(b));
    t.true(isHandlertonError(err, 'HANDLERTON_IO'));
    t.false(fs.readdirSync(dir).some((n) => n.endsWith('.tmp')));
    failPackOutput = false;
    const c = await commit(s, [{ oid: 1n, serial: b, data: 'c' }]);
    t.is(await loadText(s, 1n), 'c');
    t.is(text((await s.loadSerial(1n, a)).data), 'a', 'nothing was packed away');
    const result = await s.pack(c);
    t.is(result.removedRevisions, 2);
    await s.close();
  } finally {
    await cleanup();
  }
});

test('archivePacked: the segments a pack replaced move to archive/ as complete sealed segments; the storage never reads them again', async (t) => {
  const { dir, cleanup } = await tempDir();
  try {
    const s = await openStorage(dir, { archivePacked: true });
    const a1 = await commit(s, [{ oid: 1n, serial: 0n, data: 'a1' }, { oid: 2n, serial: 0n, data: 'b1' }]);
    await s.seal();
    const a2 = await commit(s, [{ oid: 1n, serial: a1, data: 'a2' }]);
    await s.seal();
    const before = segmentFiles(dir);
    t.is(before.length, 3, 'two sealed segments and the active one');
    await s.pack(s.lastTransaction());
    await s.close();
    const archived = fs.readdirSync(`${dir}/archive`).sort();
    t.deepEqual(archived, before.slice(0, 2), 'the replaced segments, under their own names');
    t.false(segmentFiles(dir).some((n) => archived.includes(n)));
    const r = await openStorage(dir, { archivePacked: true });
    t.is(await loadText(r, 1n), 'a2');
    t.is(await loadText(r, 2n), 'b1');
    t.true(isHandlertonError(await t.throwsAsync(r.loadSerial(1n, a1)), 'HANDLERTON_POS_KEY'));
    t.is(text((await r.loadSerial(1n, a2)).data), 'a2');
    await r.close();
    // a crash after the pack published its output and before the inputs were moved: the next open moves them
    fs.renameSync(`${dir}/archive/${archived[0]!}`, `${dir}/${archived[0]!}`);
    const reopened = await openStorage(dir, { archivePacked: true });
    t.deepEqual(fs.readdirSync(`${dir}/archive`).sort(), archived);
    t.is(await loadText(reopened, 1n), 'a2');
    await reopened.close();
    // the archived segments still hold the packed-away history: a storage opened on a copy of them reads it
    const { dir: old, cleanup: cleanupOld } = await tempDir();
    try {
      for (const name of archived) fs.copyFileSync(`${dir}/archive/${name}`, `${old}/${name}`);
      const history = await openStorage(old, { readOnly: true });
      t.is(text((await history.loadSerial(1n, a1)).data), 'a1');
      await history.close();
    } finally {
      await cleanupOld();
    }
  } finally {
    await cleanup();
  }
});

test('archivePacked must be a boolean', (t) => {
  const error = t.throws(() => parseFileStorage2Options('/tmp/x', { archivePacked: 'yes' }));
  t.true(isHandlertonError(error, 'HANDLERTON_INVALID_CONFIG'));
});
