/**
 * Issue 12, defect 1: after the storage's fdatasync fails in tpcFinish, the transaction's records may
 * already be on disk, so its prepared blob data must stay for recover() whatever happens next (a clean
 * close, another commit). Before the fix, close() rolled the prepared blob transaction back and the
 * reopened record pointed at a revision that no longer existed (POSKeyError).
 */
import test from 'ava';
import * as nodeFs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, ROOT_OID, type FileSystem } from '@handlerton/framework';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** node:fs whose fdatasync/fsync of record segment files fail with EIO while armed (blob files sync normally). */
function segmentSyncFailure(): { fs: FileSystem; arm(on: boolean): void } {
  let armed = false;
  const segmentFds = new Set<number>();
  const eio = (): NodeJS.ErrnoException => Object.assign(new Error('EIO: injected i/o error'), { code: 'EIO' });
  const fs = new Proxy(nodeFs, {
    get(target, prop, receiver) {
      if (prop === 'openSync') {
        return (path: nodeFs.PathLike, ...rest: unknown[]) => {
          const fd = (nodeFs.openSync as (...args: unknown[]) => number)(path, ...rest);
          if (/seg-[0-9a-f]+-g\d+\.fs2/.test(String(path))) segmentFds.add(fd);
          return fd;
        };
      }
      if (prop === 'fdatasync' || prop === 'fsync') {
        return (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
          if (armed && segmentFds.has(fd)) setImmediate(() => cb(eio()));
          else (nodeFs[prop] as (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => void)(fd, cb);
        };
      }
      if (prop === 'fdatasyncSync' || prop === 'fsyncSync') {
        return (fd: number) => {
          if (armed && segmentFds.has(fd)) throw eio();
          (nodeFs[prop] as (fd: number) => void)(fd);
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return { fs, arm: (on) => void (armed = on) };
}

for (const blobs of ['own', 'sqlite'] as const) {
  test(`a failed storage fdatasync at finish keeps the prepared blob data through close and reopen (blobs: ${blobs})`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'fs2-failed-finish-'));
    const config = blobs === 'own' ? `filestorage2:${join(dir, 'db')}` : { storage: `filestorage2:${join(dir, 'db')}`, blobs: `sqlite:${join(dir, 'blobs.db')}` };
    try {
      const disk = segmentSyncFailure();
      const db = await openDatabase(config, { fs: disk.fs });
      disk.arm(true);
      let blobOid = 0n;
      const error = await t.throwsAsync(
        db.transaction(async (tx) => {
          const blob = await tx.createBlob();
          blobOid = blob.oid;
          const w = await blob.open('w');
          await w.write('blob bytes of a commit whose finish failed');
          await w.close();
          await tx.write(ROOT_OID, enc('root'), { refs: [blob.oid] });
        }),
      );
      t.is((error as { code?: string }).code, 'HANDLERTON_IO');
      // Another commit after the failure is refused (fail-stop) and must not disturb the prepared data either.
      await t.throwsAsync(db.transaction(async (tx) => void (await tx.create(enc('after the failure')))));
      disk.arm(false);
      await db.close().catch(() => undefined);

      // The records reached the segment (written before the failed fdatasync): the blob must be there too.
      const reopened = await openDatabase(config);
      try {
        const snap = await reopened.snapshot();
        // The segment bytes were written (write(2)) before the failed fdatasync and the page cache kept them.
        const root = await snap.read(ROOT_OID);
        t.deepEqual(root.refs, [blobOid]);
        const reader = await (await snap.blob(blobOid)).open('r');
        t.is(new TextDecoder().decode(await reader.read(1024)), 'blob bytes of a commit whose finish failed');
        await reader.close();
        await snap.close();
      } finally {
        await reopened.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
