/**
 * The simulated power-loss harness on FileStorage2: sampled crash points of every workload in all
 * three modes at zero, a broken engine (acknowledging before its fdatasync) caught, and the
 * regression test of the blob-publication defect the harness found. HANDLERTON_POWERLOSS_POINTS
 * (crash points per recorded run, default 10) and HANDLERTON_POWERLOSS_SEED size and replay it.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type FileSystem } from '@handlerton/framework';
import { builtInWorkloads, crashPoints, crashState, CrashRecorder, runPowerLoss, WorkloadDriver, type TreeState } from '../src/powerloss/index.js';

const SEED = process.env['HANDLERTON_POWERLOSS_SEED'] === undefined ? 20261207 : Number(process.env['HANDLERTON_POWERLOSS_SEED']);
const POINTS = process.env['HANDLERTON_POWERLOSS_POINTS'] === undefined ? 10 : Number(process.env['HANDLERTON_POWERLOSS_POINTS']);

test('FileStorage2 keeps every acknowledged transaction through simulated power loss (all workloads, drop / torn / reorder)', async (t) => {
  t.timeout(600_000);
  const report = await runPowerLoss({ target: { engine: 'filestorage2' }, seed: SEED, maxPoints: POINTS });
  t.log(report.summary, `${report.durationMs} ms`);
  t.deepEqual(report.violations, [], report.summary);
  t.true(report.ok);
  t.is(report.counts['lost'], 0);
  t.is(report.counts['partial'], 0);
  t.is(report.counts['unopenable'], 0);
  t.is(report.counts['unstable'], 0);
  t.true((report.counts['states'] ?? 0) >= 300, `only ${report.counts['states']} states`);
  t.regex(report.summary, /^powerloss: engine=filestorage2 states=\d+ lost=0 partial=0 unopenable=0 /);
});

/**
 * The recorded file system with the synchronous fdatasync (the one a lone commit uses, `inlineSync`)
 * made a no-op that reports success: the engine acknowledges commits whose bytes were never synced.
 */
function withoutFdatasync(recorded: FileSystem): FileSystem {
  return { ...recorded, fdatasyncSync: () => undefined } as unknown as FileSystem;
}

test('the harness reports lost transactions for an engine that acknowledges before its fdatasync', async (t) => {
  t.timeout(300_000);
  const report = await runPowerLoss({ target: { engine: 'filestorage2' }, seed: SEED, workloads: ['commits'], modes: ['drop'], engineFs: withoutFdatasync });
  t.log(report.summary);
  t.false(report.ok);
  t.true((report.counts['lost'] ?? 0) > 0, report.summary);
  t.true(report.violations.some((v) => /acknowledged transaction \d+ .* is missing|acknowledged\)/.test(v.message)), report.violations[0]?.message ?? 'no violation');
});

/** Inodes reachable from the root of `tree`. */
function reachable(tree: TreeState): Set<number> {
  const seen = new Set<number>([tree.root]);
  const stack = [tree.root];
  while (stack.length > 0) {
    for (const ino of tree.dirs.get(stack.pop()!)?.values() ?? []) {
      if (seen.has(ino)) continue;
      seen.add(ino);
      if (tree.dirs.has(ino)) stack.push(ino);
    }
  }
  return seen;
}

test('FileStorage2 blobs: a draft moved into a new blob directory stays reachable at every crash point (the new directories are durable before the move)', async (t) => {
  t.timeout(120_000);
  const dir = await mkdtemp(join(tmpdir(), 'powerloss-blob-publish-'));
  try {
    const recorder = new CrashRecorder(dir);
    const db = await openDatabase({ engine: 'filestorage2', path: join(dir, 'data') }, { fs: recorder.fs });
    const driver = new WorkloadDriver(db, (label, value) => recorder.mark(label, value));
    try {
      await builtInWorkloads({}).find((w) => w.name === 'blobs')!.run(driver);
    } finally {
      await db.close();
    }
    const moves = recorder.log.flatMap((e, i) => (e.kind === 'rename' && e.isDir ? [{ at: i, ino: e.ino }] : []));
    t.true(moves.length >= 3, 'each blob commit moved a draft directory');
    let checked = 0;
    for (const move of moves) {
      for (const end of crashPoints(recorder.log).filter((p) => p > move.at)) {
        const { tree } = crashState(recorder.initial, recorder.log, end, 'drop');
        // Before the move is durable the draft is still in tmp/; after, it is in its blob directory.
        t.true(reachable(tree).has(move.ino), `draft directory (inode ${move.ino}, moved at event ${move.at}) unreachable at crash point ${end}`);
        checked++;
      }
    }
    t.true(checked > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('FileStorage2 with syncMode none: every file published by rename was fdatasynced first, so a power cut never leaves an empty format marker or journal', async (t) => {
  t.timeout(300_000);
  const dir = await mkdtemp(join(tmpdir(), 'powerloss-sync-none-'));
  try {
    const recorder = new CrashRecorder(dir);
    const db = await openDatabase({ engine: 'filestorage2', path: join(dir, 'data'), options: { syncMode: 'none' } }, { fs: recorder.fs });
    const driver = new WorkloadDriver(db, (label, value) => recorder.mark(label, value));
    try {
      await builtInWorkloads({}).find((w) => w.name === 'blobs')!.run(driver);
    } finally {
      await db.close();
    }
    const renames = recorder.log.flatMap((e, i) => (e.kind === 'rename' && !e.isDir ? [{ at: i, ino: e.ino, name: e.toName }] : []));
    t.true(renames.some((r) => r.name === 'BLOBS-FORMAT') && renames.some((r) => r.name === 'refs.log'));
    for (const rename of renames) {
      const synced = recorder.log.slice(0, rename.at).some((e) => e.kind === 'sync' && e.ino === rename.ino);
      t.true(synced, `${rename.name} was renamed into place (event ${rename.at}) without an fsync/fdatasync of its data`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // And end to end: syncMode none may lose commits on power loss, but the database always opens.
  const report = await runPowerLoss({ target: { engine: 'filestorage2', options: { syncMode: 'none' } }, seed: SEED, workloads: ['commits'], modes: ['reorder'], variants: 3 });
  t.log(report.summary);
  t.is(report.counts['unopenable'], 0, report.violations.find((v) => v.message.startsWith('unopenable'))?.message);
});
