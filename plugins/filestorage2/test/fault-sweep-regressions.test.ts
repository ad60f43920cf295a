/**
 * Regression tests for the defects the I/O fault sweep (`npm run faults -- --engine filestorage2`)
 * found: each injects the one failing file operation the sweep found and checks the fixed behaviour.
 */
import test from 'ava';
import * as nodeFs from 'node:fs';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type FileSystem } from '@handlerton/framework';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function errno(code: 'EIO' | 'ENOSPC', syscall: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: injected, ${syscall}`);
  error.code = code;
  error.syscall = syscall;
  return error;
}

/** node:fs where `fails(name, firstArg)` decides which calls fail with `code` (sync: throw, callback: err). */
function failingFs(fails: (name: string, first: unknown) => boolean, code: 'EIO' | 'ENOSPC' = 'EIO'): FileSystem {
  return new Proxy(nodeFs, {
    get(target, prop, receiver) {
      const real = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || typeof real !== 'function') return real;
      return (...args: unknown[]) => {
        if (!fails(prop, args[0])) return (real as (...a: unknown[]) => unknown).apply(target, args);
        if (prop.endsWith('Sync')) throw errno(code, prop);
        const callback = args[args.length - 1] as (err: Error) => void;
        setImmediate(() => callback(errno(code, prop)));
        return undefined;
      };
    },
  });
}

async function withDir(prefix: string, run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function writeBlob(dir: string): Promise<bigint> {
  const db = await openDatabase(`filestorage2:${dir}`);
  const oid = await db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    const handle = await blob.open('w');
    await handle.write(enc('acknowledged blob bytes'));
    await handle.close();
    return blob.oid;
  });
  await db.close();
  return oid;
}

test('fault sweep: a stat EIO on the blob refcount journal fails the open instead of replacing the journal with an empty one', async (t) => {
  await withDir('fs2-faults-journal-', async (dir) => {
    const oid = await writeBlob(dir);
    const fs = failingFs((name, first) => name === 'stat' && typeof first === 'string' && first.endsWith('refs.log'));
    const error = await t.throwsAsync(openDatabase(`filestorage2:${dir}`, { fs }));
    t.is((error as { code?: string }).code, 'HANDLERTON_IO');
    const db = await openDatabase(`filestorage2:${dir}`);
    const snapshot = await db.snapshot();
    const handle = await (await snapshot.blob(oid)).open('r');
    t.is(new TextDecoder().decode(await handle.read(1024)), 'acknowledged blob bytes');
    await handle.close();
    await snapshot.close();
    await db.close();
  });
});

test('fault sweep: a failed write of the storage lock file leaves no lock file (a torn pid could name a live process)', async (t) => {
  await withDir('fs2-faults-lock-', async (dir) => {
    const lockFds = new Set<number>();
    const fs = new Proxy(nodeFs, {
      get(target, prop, receiver) {
        if (prop === 'openSync') {
          return (path: string, ...rest: unknown[]) => {
            const fd = (nodeFs.openSync as (...a: unknown[]) => number)(path, ...rest);
            if (String(path).endsWith('LOCK')) lockFds.add(fd);
            return fd;
          };
        }
        if (prop === 'writeSync' || prop === 'writev' || prop === 'writevSync') {
          const real = Reflect.get(target, prop, receiver) as (...a: unknown[]) => unknown;
          return (fd: number, ...rest: unknown[]) => {
            if (lockFds.has(fd)) throw errno('ENOSPC', 'write');
            return real.apply(target, [fd, ...rest]);
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    }) as FileSystem;
    const error = await t.throwsAsync(openDatabase(`filestorage2:${dir}`, { fs }));
    t.is((error as { code?: string }).code, 'HANDLERTON_IO');
    t.false(existsSync(join(dir, 'LOCK')), 'the lock file with a torn pid was left behind');
    const db = await openDatabase(`filestorage2:${dir}`);
    await db.close();
  });
});

test('fault sweep: a failed write of the blob directory lock file leaves no lock file', async (t) => {
  await withDir('fs2-faults-bloblock-', async (dir) => {
    await (await openDatabase(`filestorage2:${dir}`)).close();
    const lockFds = new Set<number>();
    const fs = new Proxy(nodeFs, {
      get(target, prop, receiver) {
        if (prop === 'open') {
          return (path: string, ...rest: unknown[]) => {
            const callback = rest.pop() as (err: Error | null, fd: number) => void;
            (nodeFs.open as (...a: unknown[]) => void)(path, ...rest, (err: Error | null, fd: number) => {
              if (err === null && String(path).endsWith(join('blobs', 'LOCK'))) lockFds.add(fd);
              callback(err, fd);
            });
          };
        }
        if (prop === 'write') {
          return (fd: number, ...rest: unknown[]) => {
            if (!lockFds.has(fd)) return (nodeFs.write as (...a: unknown[]) => void)(fd, ...rest);
            const callback = rest[rest.length - 1] as (err: Error) => void;
            setImmediate(() => callback(errno('ENOSPC', 'write')));
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    }) as FileSystem;
    const error = await t.throwsAsync(openDatabase(`filestorage2:${dir}`, { fs }));
    t.truthy((error as { code?: string }).code);
    t.false(existsSync(join(dir, 'blobs', 'LOCK')), 'the blob lock file with a torn pid was left behind');
  });
});

test('fault sweep: a lock file this thread failed to remove at close (unlink EIO) is taken over by its next open', async (t) => {
  await withDir('fs2-faults-ownlock-', async (dir) => {
    const lock = join(dir, 'LOCK');
    const failing = failingFs((name, first) => name === 'unlinkSync' && first === lock);
    await (await openDatabase(`filestorage2:${dir}`, { fs: failing })).close();
    t.true(existsSync(lock), 'the release failed and left the lock file');
    const db = await openDatabase(`filestorage2:${dir}`);
    // while it is held, a second open in this process is still refused
    const error = await t.throwsAsync(openDatabase(`filestorage2:${dir}`));
    t.is((error as { code?: string }).code, 'HANDLERTON_STORAGE_LOCKED');
    await db.close();
  });
});

test('a lock file naming this process that this thread did not leave behind is refused (another worker thread or module copy may hold it)', async (t) => {
  await withDir('fs2-faults-otherlock-', async (dir) => {
    await (await openDatabase(`filestorage2:${dir}`)).close();
    writeFileSync(join(dir, 'LOCK'), `${process.pid} 0123456789abcdef\n`);
    const error = await t.throwsAsync(openDatabase(`filestorage2:${dir}`));
    t.is((error as { code?: string }).code, 'HANDLERTON_STORAGE_LOCKED');
  });
});

test('fault sweep: a failed directory fsync after the pack output was renamed into place is fail-stop: the next commit on the same open database is refused', async (t) => {
  await withDir('fs2-faults-pack-', async (dir) => {
    // once the pack output (generation >= 1) exists, fsyncs of the storage directory fail
    let packing = false;
    const directoryFds = new Set<number>();
    const syncs = new Set(['fsync', 'fdatasync', 'fsyncSync', 'fdatasyncSync']);
    const failing = failingFs((name, first) => syncs.has(name) && typeof first === 'number' && directoryFds.has(first));
    const fs = new Proxy(failing, {
      get(target, prop, receiver) {
        if (prop !== 'openSync') return Reflect.get(target, prop, receiver) as unknown;
        return (path: string, ...rest: unknown[]) => {
          const fd = (nodeFs.openSync as (...a: unknown[]) => number)(path, ...rest);
          if (/-g[1-9][0-9]*\.fs2\.tmp$/.test(String(path))) packing = true;
          if (packing && String(path) === dir) directoryFds.add(fd);
          return fd;
        };
      },
    }) as FileSystem;
    const db = await openDatabase({ engine: 'filestorage2', path: dir, options: { segmentSize: 4096 } }, { fs });
    for (let i = 0; i < 8; i++) await db.transaction(async (tx) => void (await tx.create(enc(`record ${i} `.repeat(100)))));
    await db.transaction(async (tx) => void (await tx.write(0n, enc('root'))));
    const packError = await t.throwsAsync(db.pack());
    t.is((packError as { code?: string }).code, 'HANDLERTON_IO');
    t.true(directoryFds.size > 0, 'the directory fsync after publishing the pack output was reached');
    packing = false;
    directoryFds.clear();
    const commitError = await t.throwsAsync(db.transaction(async (tx) => void (await tx.create(enc('after the failed directory sync')))));
    t.is((commitError as { code?: string }).code, 'HANDLERTON_IO');
    await db.close().catch(() => undefined);
    const reopened = await openDatabase({ engine: 'filestorage2', path: dir, options: { segmentSize: 4096 } });
    await reopened.transaction(async (tx) => void (await tx.create(enc('writes work after a reopen'))));
    await reopened.close();
  });
});
