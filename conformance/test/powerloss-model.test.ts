/**
 * Unit tests of the power-loss layer: what the recording file system logs, and what the strict
 * POSIX model keeps at a crash point in each mode (unsynced data dropped, entries without a
 * directory fsync dropped, synced data kept, sector tearing, independent pages).
 */
import test from 'ava';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CrashRecorder, crashPoints, crashState, markersBefore, SECTOR_SIZE, PAGE_SIZE, type FsEvent, type TreeState } from '../src/powerloss/index.js';

async function recorder(): Promise<{ rec: CrashRecorder; dir: string; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'powerloss-model-'));
  return { rec: new CrashRecorder(dir), dir, done: () => rm(dir, { recursive: true, force: true }) };
}

/** The contents of `path` (relative to the root) in `tree`, or undefined when it is not reachable. */
function fileAt(tree: TreeState, path: string): Buffer | undefined {
  let ino = tree.root;
  for (const name of path.split('/')) {
    const next = tree.dirs.get(ino)?.get(name);
    if (next === undefined) return undefined;
    ino = next;
  }
  return tree.files.get(ino);
}

function syncDir(rec: CrashRecorder, path: string): void {
  const fd = rec.fs.openSync(path, 'r');
  rec.fs.fsyncSync(fd);
  rec.fs.closeSync(fd);
}

test('an unsynced write is dropped, a synced one survives, and a barrier covers only what came before it', async (t) => {
  const { rec, dir, done } = await recorder();
  try {
    const path = join(dir, 'f');
    const fd = rec.fs.openSync(path, 'wx');
    syncDir(rec, dir);
    rec.fs.writeSync(fd, Buffer.from('durable'), 0, 7, 0);
    rec.fs.fdatasyncSync(fd);
    const synced = rec.log.length;
    rec.fs.writeSync(fd, Buffer.from('-lost'), 0, 5, 7);
    rec.fs.closeSync(fd);
    const end = rec.log.length;
    t.is(fileAt(crashState(rec.initial, rec.log, synced, 'drop').tree, 'f')?.toString(), 'durable');
    t.is(fileAt(crashState(rec.initial, rec.log, end, 'drop').tree, 'f')?.toString(), 'durable', 'the unsynced append is dropped');
    t.is(fs.readFileSync(path, 'utf8'), 'durable-lost', 'the real file got everything');
    // A barrier covers what was logged before it was issued, not a write that completed while it ran.
    const log: FsEvent[] = [...rec.log, { kind: 'write', ino: 2, position: 0, data: Buffer.from('X') }, { kind: 'sync', ino: 2, call: 'fdatasync', issuedAt: end }];
    t.is(fileAt(crashState(rec.initial, log, log.length, 'drop').tree, 'f')?.toString(), 'durable-lost');
  } finally {
    await done();
  }
});

test('a directory entry without an fsync of its directory is dropped, even when the file was fsynced', async (t) => {
  const { rec, dir, done } = await recorder();
  try {
    const fd = rec.fs.openSync(join(dir, 'a'), 'wx');
    rec.fs.writeSync(fd, Buffer.from('aaaa'));
    rec.fs.fsyncSync(fd);
    rec.fs.closeSync(fd);
    t.is(fileAt(crashState(rec.initial, rec.log, rec.log.length, 'drop').tree, 'a'), undefined);
    syncDir(rec, dir);
    t.is(fileAt(crashState(rec.initial, rec.log, rec.log.length, 'drop').tree, 'a')?.toString(), 'aaaa');
    rec.fs.renameSync(join(dir, 'a'), join(dir, 'b'));
    rec.fs.unlinkSync(join(dir, 'b'));
    const before = crashState(rec.initial, rec.log, rec.log.length, 'drop').tree;
    t.is(fileAt(before, 'a')?.toString(), 'aaaa', 'the rename and the unlink are not durable yet');
    t.is(fileAt(before, 'b'), undefined);
    syncDir(rec, dir);
    t.is(fileAt(crashState(rec.initial, rec.log, rec.log.length, 'drop').tree, 'a'), undefined);
  } finally {
    await done();
  }
});

test('a directory moved across directories is one move, durable with its destination; a file there keeps two names until both sides are synced', async (t) => {
  const { rec, dir, done } = await recorder();
  try {
    rec.fs.mkdirSync(join(dir, 'src'));
    rec.fs.mkdirSync(join(dir, 'dst'));
    rec.fs.mkdirSync(join(dir, 'src', 'd'));
    rec.fs.writeFileSync(join(dir, 'src', 'f'), 'ff');
    for (const d of [dir, join(dir, 'src'), join(dir, 'dst')]) syncDir(rec, d);
    const fd = rec.fs.openSync(join(dir, 'src', 'f'), 'r+');
    rec.fs.fsyncSync(fd);
    rec.fs.closeSync(fd);
    rec.fs.renameSync(join(dir, 'src', 'd'), join(dir, 'dst', 'd'));
    rec.fs.renameSync(join(dir, 'src', 'f'), join(dir, 'dst', 'f'));
    syncDir(rec, join(dir, 'dst'));
    const { tree } = crashState(rec.initial, rec.log, rec.log.length, 'drop');
    const src = tree.dirs.get(tree.dirs.get(tree.root)!.get('src')!)!;
    const dst = tree.dirs.get(tree.dirs.get(tree.root)!.get('dst')!)!;
    t.false(src.has('d'), 'the moved directory left its source');
    t.true(dst.has('d'));
    t.true(src.has('f') && dst.has('f'), 'the file is reachable under both names (the source side is not synced)');
  } finally {
    await done();
  }
});

test('torn: a random prefix of the unsynced writes survives, the next one cut at a sector boundary', async (t) => {
  const { rec, dir, done } = await recorder();
  try {
    const fd = rec.fs.openSync(join(dir, 'f'), 'wx');
    syncDir(rec, dir);
    rec.fs.fsyncSync(fd);
    const data = Buffer.alloc(3 * SECTOR_SIZE + 100, 7);
    rec.fs.writeSync(fd, data, 0, data.length, 100);
    const lengths = new Set<number>();
    for (let seed = 0; seed < 64; seed++) {
      const file = fileAt(crashState(rec.initial, rec.log, rec.log.length, 'torn', seed).tree, 'f')!;
      t.true(file.length === 0 || file.length % SECTOR_SIZE === 0 || file.length === 100 + data.length, `length ${file.length}`);
      lengths.add(file.length);
    }
    t.true(lengths.has(0) && lengths.has(100 + data.length) && lengths.size >= 4, `lengths seen: ${[...lengths]}`);
  } finally {
    await done();
  }
});

test('reorder: unsynced pages are kept or lost independently, leaving holes', async (t) => {
  const { rec, dir, done } = await recorder();
  try {
    const fd = rec.fs.openSync(join(dir, 'f'), 'wx');
    syncDir(rec, dir);
    rec.fs.fsyncSync(fd);
    rec.fs.writeSync(fd, Buffer.alloc(3 * PAGE_SIZE, 1), 0, 3 * PAGE_SIZE, 0);
    let holes = 0;
    for (let seed = 0; seed < 32; seed++) {
      const file = fileAt(crashState(rec.initial, rec.log, rec.log.length, 'reorder', seed).tree, 'f')!;
      if (file.length === 3 * PAGE_SIZE && file[0] === 0) holes++;
      for (let page = 0; page * PAGE_SIZE < file.length; page++) {
        const bytes = file.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
        t.true(bytes.every((b) => b === bytes[0]), 'a page is kept or lost as a whole');
      }
    }
    t.true(holes > 0, 'some state keeps the last page and loses the first');
  } finally {
    await done();
  }
});

test('the layer tracks hard links, recursive removal, copies, truncating opens and markers', async (t) => {
  const { rec, dir, done } = await recorder();
  try {
    rec.fs.mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    rec.fs.writeFileSync(join(dir, 'a', 'b', 'f'), 'one');
    rec.fs.linkSync(join(dir, 'a', 'b', 'f'), join(dir, 'g'));
    rec.fs.copyFileSync(join(dir, 'g'), join(dir, 'h'));
    rec.mark('ack', 1);
    const fd = rec.fs.openSync(join(dir, 'h'), 'w');
    rec.fs.closeSync(fd);
    rec.fs.rmSync(join(dir, 'a'), { recursive: true });
    const kinds = rec.log.map((e) => (e.kind === 'add' ? `add ${e.name}${e.created ? ` ${e.created}` : ''}` : e.kind === 'remove' ? `remove ${e.name}` : e.kind));
    t.deepEqual(kinds, ['add a dir', 'add b dir', 'add f file', 'write', 'add g', 'add h file', 'write', 'marker', 'truncate', 'remove f', 'remove b', 'remove a']);
    t.deepEqual(markersBefore(rec.log, rec.log.length, 'ack'), [1]);
    const points = crashPoints(rec.log);
    t.false(points.includes(7), 'no crash point between an event and the marker after it');
    t.true(points.includes(8));
    // Every file synced and every directory synced: the final tree equals the real one.
    for (const name of ['g', 'h']) {
      const f = rec.fs.openSync(join(dir, name), 'r');
      rec.fs.fsyncSync(f);
      rec.fs.closeSync(f);
    }
    syncDir(rec, dir);
    const { tree } = crashState(rec.initial, rec.log, rec.log.length, 'drop');
    t.is(fileAt(tree, 'g')?.toString(), 'one');
    t.is(fileAt(tree, 'h')?.length, 0);
    t.is(fileAt(tree, 'a/b/f'), undefined);
    t.throws(() => rec.fs.appendFileSync(join(dir, 'g'), 'x'), { message: /does not model fs.appendFileSync/ });
    await t.throwsAsync(rec.fs.promises.writeFile(join(dir, 'g'), 'x'), { message: /does not model fs.promises.writeFile/ });
  } finally {
    await done();
  }
});

test('the callback forms are recorded at completion', async (t) => {
  const { rec, dir, done } = await recorder();
  try {
    const fd = await new Promise<number>((resolve, reject) => rec.fs.open(join(dir, 'f'), 'wx', 0o644, (e, n) => (e ? reject(e) : resolve(n))));
    await new Promise<void>((resolve, reject) => rec.fs.writev(fd, [Buffer.from('ab'), Buffer.from('cd')], 10, (e) => (e ? reject(e) : resolve())));
    await new Promise<void>((resolve, reject) => rec.fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
    await new Promise<void>((resolve, reject) => rec.fs.close(fd, (e) => (e ? reject(e) : resolve())));
    await new Promise<void>((resolve, reject) => rec.fs.rename(join(dir, 'f'), join(dir, 'g'), (e) => (e ? reject(e) : resolve())));
    t.deepEqual(
      rec.log.map((e) => e.kind),
      ['add', 'write', 'sync', 'rename'],
    );
    const write = rec.log[1]!;
    t.true(write.kind === 'write' && write.position === 10 && write.data.toString() === 'abcd');
  } finally {
    await done();
  }
});

test('the powerloss CLI: --help exits 0, a bad mode or a missing engine exits 2', async (t) => {
  const { main } = await import('../src/powerloss/cli.js');
  const log = console.log;
  const error = console.error;
  const printed: string[] = [];
  console.log = (...args: unknown[]) => void printed.push(args.join(' '));
  console.error = (...args: unknown[]) => void printed.push(args.join(' '));
  try {
    t.is(await main(['--help']), 0);
    t.is(await main(['--engine', 'filestorage2', '--mode', 'sideways']), 2);
    t.is(await main(['--mode', 'drop']), 2);
    t.is(await main(['--engine', 'filestorage2', '--workloads', 'nosuch']), 2);
  } finally {
    console.log = log;
    console.error = error;
  }
  t.true(printed.some((line) => line.includes('--mode must be drop, torn, reorder or all')));
  t.true(printed.some((line) => line.includes('--engine is required')));
  t.true(printed.some((line) => line.includes('unknown workload "nosuch"')));
});
