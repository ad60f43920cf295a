/**
 * SQLite's own checks (`verify` of the records and blobs files), through a read-only open as
 * `handlerton verify` does it: a clean database has no problem; a missing transaction row, a chunk
 * whose bytes no longer match its checksum and a chunk row a revision still maps are each found
 * (none of them is a b-tree fault, so integrity_check alone passes), naming the file.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { inspectTarget, isHandlertonError, openDatabase, ROOT_OID, verifyAll } from '@handlerton/framework';

type Opened = Awaited<ReturnType<typeof openDatabase>> & Parameters<typeof verifyAll>[0];

async function verifyReadOnly(path: string): Promise<{ storage: string[]; blobs: string[] }> {
  const db = (await openDatabase(inspectTarget(`sqlite:${path}`))) as Opened;
  try {
    const result = await verifyAll(db);
    const of = (role: string): string[] => result.problems.filter((p) => p.check === role).map((p) => `${p.file ?? ''}: ${p.message}`);
    return { storage: of('storage'), blobs: of('blobs') };
  } finally {
    await db.close();
  }
}

function edit(file: string, sql: string): void {
  const db = new Database(file);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

test('verify: clean, then a lost transaction row, a chunk failing its checksum and a mapped chunk row that is gone', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sqlite-verify-'));
  try {
    const path = join(dir, 'v.db');
    const db = await openDatabase(`sqlite:${path}`);
    try {
      for (let i = 0; i < 3; i++) {
        await db.transaction(async (tx) => {
          const blob = await tx.createBlob();
          const writer = await blob.open('w');
          await writer.write(new Uint8Array(300_000).fill(i + 1));
          await writer.close();
          await tx.write(ROOT_OID, new Uint8Array([i]), { refs: [blob.oid] });
        });
      }
    } finally {
      await db.close();
    }
    t.deepEqual(await verifyReadOnly(path), { storage: [], blobs: [] });

    edit(path, 'DELETE FROM txn WHERE tid = (SELECT MIN(tid) FROM txn)');
    const lostTxn = await verifyReadOnly(path);
    t.true(lostTxn.storage.some((p) => p.startsWith(`${path}: `) && /no transaction row for its tid/.test(p)), JSON.stringify(lostTxn));

    edit(`${path}-blobs`, 'UPDATE chunk SET data = zeroblob(length(data)) WHERE id = (SELECT MIN(id) FROM chunk)');
    const badChunk = await verifyReadOnly(path);
    t.true(badChunk.blobs.some((p) => p.startsWith(`${path}-blobs: `) && /chunk \d+ fails its checksum/.test(p)), JSON.stringify(badChunk));

    edit(`${path}-blobs`, 'DELETE FROM chunk WHERE id = (SELECT MAX(id) FROM chunk)');
    const goneChunk = await verifyReadOnly(path);
    t.true(goneChunk.blobs.some((p) => /maps chunk \d+ to chunk row \d+, which does not exist/.test(p)), JSON.stringify(goneChunk));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a damaged write format version in the file header: the writable open is CorruptionError at byte 18 (was HANDLERTON_IO from SQLITE_READONLY), and verify names it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sqlite-verify-header-'));
  try {
    const path = join(dir, 'h.db');
    const db = await openDatabase(`sqlite:${path}`);
    await db.transaction(async (tx) => {
      await tx.write(ROOT_OID, new Uint8Array([1]));
    });
    await db.close();
    const bytes = await readFile(path);
    bytes[18] = 0xd8;
    await writeFile(path, bytes);
    const error = await t.throwsAsync(openDatabase(`sqlite:${path}`));
    t.true(isHandlertonError(error, 'HANDLERTON_CORRUPTION'), String(error));
    t.like(error as unknown as { file: string; offset: number }, { file: path, offset: 18 });
    const found = await verifyReadOnly(path);
    t.true(found.storage.some((p) => p.startsWith(`${path}: `) && /write\/read format versions are 216\/2/.test(p)), JSON.stringify(found));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
