/**
 * The fault sweep's own parts: the fault-injecting FileSystem numbers operations and fails the
 * chosen one in each form, the child's output parser, and a broken engine the sweep must catch.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileSystem } from '@handlerton/framework';
import { faultyFileSystem, runFaultSweep, type SweepStep } from '../src/faults/index.js';
import { callNumbers, parseChildOutput } from '../src/faults/strace-sweep.js';
import { main } from '../src/faults/cli.js';

test('the faulty fs numbers sync, callback and promise operations and fails exactly operation N', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'faulty-fs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'f');
  const faulty = faultyFileSystem({ failAt: 3, mode: 'EIO' }, { log: true });
  const fs = faulty.fs;
  const fd = fs.openSync(file, 'w'); // 1
  fs.writeSync(fd, Buffer.from('abcd'), 0, 4, 0); // 2
  const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => fs.fsync(fd, (err) => resolve(err))); // 3
  t.is(error?.code, 'EIO');
  t.is(error?.syscall, 'fsync');
  fs.closeSync(fd); // 4
  await t.throwsAsync(faultyFileSystem({ failAt: 1, mode: 'ENOSPC' }).fs.promises.readFile(file), { code: 'ENOSPC' });
  t.is(faulty.count(), 4);
  t.deepEqual(faulty.log.map((line) => line.split(' ')[0]), ['openSync', 'writeSync', 'fsync', 'closeSync']);
  t.like(faulty.injected(), { op: 3, name: 'fsync', mode: 'EIO', short: false, target: file });
  t.false(faulty.discarded());
  fs.unlinkSync(file); // 5: the engine drops the file whose sync failed
  t.true(faulty.discarded());
});

test('a short write writes half and returns the short count; the next write to that descriptor fails with ENOSPC', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'faulty-fs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'f');
  const faulty = faultyFileSystem({ failAt: 2, mode: 'short' });
  const fd = faulty.fs.openSync(file, 'w');
  t.is(faulty.fs.writeSync(fd, Buffer.from('0123456789'), 0, 10, 0), 5);
  t.throws(() => faulty.fs.writeSync(fd, Buffer.from('56789'), 0, 5, 5), { code: 'ENOSPC' });
  faulty.fs.closeSync(fd);
  t.is(readFileSync(file, 'utf8'), '01234');
  t.true(faulty.injected()?.short);
});

test('the child output parser: a child that dies without a result raised an untyped error, its ACKs still count', (t) => {
  const crashed = parseChildOutput('ACK 1 100\nACK 2 200\n', 134, 'Segmentation fault');
  t.deepEqual(crashed.acknowledged, [{ seq: 1, tid: 100n }, { seq: 2, tid: 200n }]);
  t.is(crashed.error?.code, undefined);
  const done = parseChildOutput('ACK 1 100\nRESULT {"acknowledged":[{"seq":1,"tid":"100"}],"error":{"step":"commit 2","code":"HANDLERTON_IO","message":"x"},"probe":{"outcome":"committed","seq":2,"tid":"300"}}\n', 0, '');
  t.is(done.error?.code, 'HANDLERTON_IO');
  t.deepEqual(done.probe, { outcome: 'committed', seq: 2, tid: 300n });
  t.deepEqual(callNumbers(10, 1, undefined), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  t.deepEqual(callNumbers(10, 1, 2), [3, 8]);
});

const SHORT: readonly SweepStep[] = [{ kind: 'open' }, { kind: 'commit', seq: 1 }, { kind: 'commit', seq: 2 }, { kind: 'close' }];

test('the sweep catches a broken engine: one whose failed writes and syncs are reported as done acknowledges commits it then loses', async (t) => {
  // FileStorage2 over a file layer that swallows write and sync errors (the injected fault included)
  const swallowErrors = (fs: FileSystem): FileSystem =>
    new Proxy(fs, {
      get(target, prop, receiver) {
        const real = Reflect.get(target, prop, receiver) as unknown;
        if (typeof real !== 'function') return real;
        const call = real as (...a: unknown[]) => unknown;
        if (prop === 'writev' || prop === 'fdatasync' || prop === 'fsync') {
          return (...args: unknown[]) => {
            const callback = args.pop() as (err: Error | null, ...rest: unknown[]) => void;
            const buffers = prop === 'writev' ? (args[1] as ArrayBufferView[]) : [];
            const total = buffers.reduce((sum, b) => sum + b.byteLength, 0);
            return call(...args, (err: Error | null, ...rest: unknown[]) => (err === null ? callback(null, ...rest) : callback(null, total, buffers)));
          };
        }
        if (prop === 'writeSync' || prop === 'fdatasyncSync' || prop === 'fsyncSync') {
          return (...args: unknown[]) => {
            try {
              return call(...args);
            } catch {
              return typeof args[3] === 'number' ? args[3] : undefined;
            }
          };
        }
        return real;
      },
    }) as FileSystem;
  const report = await runFaultSweep({ target: { engine: 'filestorage2' }, steps: SHORT, wrapFs: swallowErrors, modes: ['EIO'], to: 24 });
  t.false(report.ok);
  t.true((report.counts['lost'] ?? 0) + (report.counts['partial'] ?? 0) + (report.counts['unopenable'] ?? 0) > 0, `${report.summary} ${report.violations[0]?.message ?? ''}`);
});

test('the CLI: bad usage exits 2, a clean short sweep exits 0 and writes its JSON report', async (t) => {
  t.is(await main(['--engine', 'filestorage2', '--stride', 'zero']), 2);
  t.is(await main(['--bogus']), 2);
  const dir = mkdtempSync(join(tmpdir(), 'faults-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'report.json');
  t.is(await main(['--engine', 'filestorage2', '--modes', 'EIO', '--from', '100', '--to', '160', '--stride', '20', '--quiet', '--json', json]), 0);
  const report = JSON.parse(readFileSync(json, 'utf8')) as { ok: boolean; summary: string; harness: string };
  t.true(report.ok);
  t.is(report.harness, 'faults');
  t.regex(report.summary, /^faults: engine=filestorage2 ops=\d+ lost=0 partial=0 untyped=0 unopenable=0/);
});
