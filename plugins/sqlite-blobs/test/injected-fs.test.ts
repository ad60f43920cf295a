/**
 * The engine's JS file operations go through the FileSystem of its EngineContext (openDatabase's
 * `fs`), so a test can watch them and fail them; SQLite's own I/O is native (README "Fault injection").
 */
import * as nodeFs from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { openDatabase, StorageIOError, type Database, type FileSystem, type Oid } from '@handlerton/framework';
import { tempDir } from './helpers.js';

/** Above the blob handlerton's pre-sync threshold (4 MiB written in one transaction). */
const BIG = 5 * 1024 * 1024;

interface Call {
  readonly name: string;
  readonly path: string | undefined;
}

/** node:fs that records every call and, while `failSync` is set, fails fdatasync with EIO. */
function recordingDisk(): { fs: FileSystem; calls: Call[]; failSync(on: boolean): void } {
  const calls: Call[] = [];
  let failing = false;
  const fs = new Proxy(nodeFs, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || typeof value !== 'function' || !/^[a-z]/.test(prop)) return value;
      return (...args: unknown[]): unknown => {
        calls.push({ name: prop, path: typeof args[0] === 'string' ? args[0] : undefined });
        if (failing && prop === 'fdatasync') {
          const error: NodeJS.ErrnoException = new Error('EIO: injected i/o error, fdatasync');
          error.code = 'EIO';
          const callback = args[args.length - 1] as (err: NodeJS.ErrnoException) => void;
          setImmediate(() => callback(error));
          return undefined;
        }
        return Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
      };
    },
  });
  return { fs, calls, failSync: (on) => void (failing = on) };
}

/** A pattern of `size` bytes that differs per `seed`. */
function bytes(size: number, seed: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + seed) & 0xff;
  return data;
}

/** True when `a` and `b` hold the same bytes (no multi-MiB diff in a failure message). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** Commits one transaction holding a new blob of `data`; returns the blob's oid. */
async function commitBlob(db: Database, data: Uint8Array): Promise<Oid> {
  return db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    const writer = await blob.open('w');
    for (let at = 0; at < data.length; at += 1024 * 1024) await writer.write(data.subarray(at, at + 1024 * 1024));
    await writer.close();
    return blob.oid;
  });
}

/** The whole content of blob `oid` in a fresh snapshot of `db`. */
async function readBlob(db: Database, oid: Oid): Promise<Uint8Array> {
  const snapshot = await db.snapshot();
  try {
    const reader = await (await snapshot.blob(oid)).open('r');
    const parts: Uint8Array[] = [];
    for (let part = await reader.read(1024 * 1024); part.length > 0; part = await reader.read(1024 * 1024)) parts.push(part);
    await reader.close();
    return Buffer.concat(parts);
  } finally {
    await snapshot.close();
  }
}

test('opening a database and committing a large blob makes the mkdir, WAL pre-sync and WAL stat through the injected fs', async (t) => {
  const dir = join(await tempDir(t), 'nested', 'dir');
  const location = join(dir, 'db.sqlite');
  const disk = recordingDisk();
  const db = await openDatabase(`sqlite:${location}`, { fs: disk.fs });
  try {
    t.true(
      disk.calls.some((c) => c.name === 'mkdirSync' && c.path === dir),
      'the parent directory is created through the injected fs',
    );
    disk.calls.length = 0;
    const oid = await commitBlob(db, bytes(BIG, 1));
    const wal = `${location}-blobs-wal`;
    t.true(
      disk.calls.some((c) => c.name === 'open' && c.path === wal),
      'the pre-sync opens the blob WAL through the injected fs',
    );
    t.true(
      disk.calls.some((c) => c.name === 'fdatasync'),
      'the pre-sync fdatasyncs through the injected fs',
    );
    t.true(
      disk.calls.some((c) => c.name === 'statSync' && c.path === wal),
      'the WAL size check stats through the injected fs',
    );
    t.true(sameBytes(await readBlob(db, oid), bytes(BIG, 1)), 'the blob reads back whole');
  } finally {
    await db.close();
  }
});

test('a failed pre-sync fdatasync: the commit raises StorageIOError, nothing is half-applied, close releases the lock, a reopen sees every acknowledged commit', async (t) => {
  const location = join(await tempDir(t), 'db.sqlite');
  const disk = recordingDisk();
  const db = await openDatabase(`sqlite:${location}`, { fs: disk.fs });
  const kept = await commitBlob(db, bytes(BIG, 2));
  const keptRecord = await db.transaction(async (tx) => tx.create(new TextEncoder().encode('acknowledged')));

  disk.failSync(true);
  let lost: Oid | undefined;
  const error = await t.throwsAsync(
    db.transaction(async (tx) => {
      const record = await tx.create(new TextEncoder().encode('never acknowledged'));
      lost = record;
      const blob = await tx.createBlob();
      const writer = await blob.open('w');
      await writer.write(bytes(BIG, 3));
      await writer.close();
      await tx.write(record, new TextEncoder().encode('never acknowledged'), { refs: [blob.oid] });
    }),
  );
  t.true(error instanceof StorageIOError, String(error));
  t.is((error as StorageIOError).code, 'HANDLERTON_IO');
  t.true(disk.calls.some((c) => c.name === 'fdatasync'), 'the failure came from the injected fdatasync');
  // Fail-stop: later writes are refused even once the disk recovers.
  disk.failSync(false);
  await t.throwsAsync(commitBlob(db, bytes(BIG, 4)), { instanceOf: StorageIOError });
  await db.close().catch(() => undefined);

  // The writer lock was released at close: a reopen in this process (healthy disk) takes it again.
  const reopened = await openDatabase(`sqlite:${location}`);
  try {
    t.true(sameBytes(await readBlob(reopened, kept), bytes(BIG, 2)), 'the blob reads back whole');
    const snapshot = await reopened.snapshot();
    try {
      t.is(new TextDecoder().decode((await snapshot.read(keptRecord)).data), 'acknowledged');
      t.not(lost, undefined);
      if (lost !== undefined) await t.throwsAsync(snapshot.read(lost));
    } finally {
      await snapshot.close();
    }
    const again = await commitBlob(reopened, bytes(BIG, 5));
    t.true(sameBytes(await readBlob(reopened, again), bytes(BIG, 5)), 'the blob reads back whole');
  } finally {
    await reopened.close();
  }
});

test('the locator key file is created and read through the injected fs', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'keyed.db');
  const disk = recordingDisk();
  const db = await openDatabase(`sqlite:${file}`, { fs: disk.fs });
  await db.close();
  const keyCalls = disk.calls.filter((c) => c.path?.startsWith(`${file}-locator.key`));
  t.true(keyCalls.some((c) => c.name === 'open'), 'the temporary key file is opened through the injected fs');
  t.true(keyCalls.some((c) => c.name === 'link'), 'and linked into place through it');
  t.true(keyCalls.some((c) => c.name === 'readFile'), 'the existing key is looked up through it');
  t.is(nodeFs.statSync(`${file}-locator.key`).mode & 0o777, 0o600);
});
