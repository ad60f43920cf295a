import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as nodeFs from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, StorageIOError, type FileSystem } from '@handlerton/framework';
import { FileStorage2Blobs } from '../src/blobs/index.js';
import { context } from './fs2-helpers.js';

type Callback = (err: NodeJS.ErrnoException | null, ...rest: unknown[]) => void;

/** node:fs that records the path of every fd passed to fsync (sync or callback API). */
function recordingFs(): { fs: FileSystem; synced: string[] } {
  const paths = new Map<number, string>();
  const synced: string[] = [];
  const fs = new Proxy(nodeFs, {
    get(target, prop, receiver) {
      if (prop === 'openSync') {
        return (path: string, ...rest: unknown[]) => {
          const fd = (target.openSync as (...a: unknown[]) => number)(path, ...rest);
          paths.set(fd, path);
          return fd;
        };
      }
      if (prop === 'open') {
        return (path: string, ...rest: unknown[]) => {
          const cb = rest.pop() as Callback;
          (target.open as (...a: unknown[]) => void)(path, ...rest, (err: NodeJS.ErrnoException | null, fd: number) => {
            if (err === null) paths.set(fd, path);
            cb(err, fd);
          });
        };
      }
      if (prop === 'fsyncSync') {
        return (fd: number) => {
          synced.push(paths.get(fd) ?? `fd ${fd}`);
          target.fsyncSync(fd);
        };
      }
      if (prop === 'fsync') {
        return (fd: number, cb: Callback) => {
          synced.push(paths.get(fd) ?? `fd ${fd}`);
          target.fsync(fd, cb);
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return { fs, synced };
}

test('creating the storage directory fsyncs every parent whose entries changed, and the storage and blob directories after their subdirectories', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'fs2-dirs-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const disk = recordingFs();
  const store = join(root, 'a', 'b', 'store');
  const db = await openDatabase(`filestorage2:${store}`, { fs: disk.fs });
  await db.close();
  const synced = new Set(disk.synced);
  // mkdir of a, a/b and store: their parents
  t.true(synced.has(root), 'parent of the first new directory');
  t.true(synced.has(join(root, 'a')));
  t.true(synced.has(join(root, 'a', 'b')), 'parent of the storage directory');
  // mkdir of blobs/ in the storage directory, of tmp/ and blobs/ in the blob directory
  t.true(synced.has(store), 'storage directory after blobs/ was created');
  t.true(synced.has(join(store, 'blobs')), 'blob directory after tmp/ and blobs/ were created');
});

test('filestorage2:/proc/x returns promptly with a typed error (recursive mkdir loops there)', (t) => {
  const script = [
    "import { openDatabase } from '@handlerton/framework';",
    "import { FileStorage2Blobs } from '@handlerton/filestorage2';",
    "import * as fs from 'node:fs';",
    "const codes = [];",
    "try { await openDatabase('filestorage2:/proc/x'); codes.push('opened'); } catch (e) { codes.push(e.code); }",
    "const ctx = { clock: { now: () => Date.now() }, logger: { debug() {}, info() {}, warn() {}, error() {}, child() { return this; } }, fs };",
    "try { await FileStorage2Blobs.open({ dir: '/proc/x/blobs', syncMode: 'always' }, ctx); codes.push('opened'); } catch (e) { codes.push(e.code); }",
    'console.log(JSON.stringify(codes));',
  ].join('\n');
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 15_000, encoding: 'utf8' });
  t.is(run.signal, null, 'the process froze and was killed');
  t.deepEqual(JSON.parse(run.stdout.trim()) as unknown, ['HANDLERTON_IO', 'HANDLERTON_IO'], run.stderr);
});

test('a storage path under a regular file is StorageIOError naming the path', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'fs2-dirs-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await writeFile(join(root, 'file'), 'x');
  const error = await t.throwsAsync(openDatabase(`filestorage2:${join(root, 'file', 'store')}`), { instanceOf: StorageIOError });
  t.regex(error?.message ?? '', /file/);
  await t.throwsAsync(FileStorage2Blobs.open({ dir: join(root, 'file', 'blobs'), syncMode: 'none' }, context()), { instanceOf: StorageIOError, message: /file/ });
});
