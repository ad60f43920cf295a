/**
 * FileStorage2Blobs' own consistency check (`BlobHandlerton.verify`), read-only: the format marker
 * (byte for byte), the refcount journal (every frame's checksum; bytes after the last valid frame),
 * and every revision the journal holds against its files (each chunk file's size, trailer and
 * every 64 KiB block checksum; holes; files the journal does not account for).
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { CorruptionError, toHex, VerifyCollector, type EngineVerifyReport, type VerifyObserver } from '@handlerton/framework';
import { BlobIndex } from './blob-index.js';
import { blockCrc, chunkFileSize, decodeTrailer, SUM_BLOCK, trailerSize } from './chunk-sums.js';
import { HOLES_FILE, HoleSet } from './holes.js';
import { decodeRecord, FRAME_HEADER, JOURNAL_MAGIC, MAX_PAYLOAD, type JournalRecord } from './journal-codec.js';
import { BlobLayout, chunkCount, chunkName, FORMAT_MAGIC, FORMAT_VERSION } from './layout.js';

const ENGINE = 'filestorage2';

/** The chunk size the format marker names, or null when the marker is damaged (reported). */
async function checkFormat(layout: BlobLayout, c: VerifyCollector): Promise<number | null> {
  let bytes: Buffer;
  try {
    bytes = await readFile(layout.format);
  } catch (error) {
    c.problem(layout.format, undefined, `the format marker cannot be read: ${(error as Error).message}`);
    return null;
  }
  c.count('format markers');
  let marker: { magic?: unknown; version?: unknown; chunkSize?: unknown };
  try {
    marker = JSON.parse(bytes.toString('utf8')) as typeof marker;
  } catch {
    c.problem(layout.format, 0, 'the format marker is not JSON');
    return null;
  }
  const chunkSize = marker.chunkSize;
  if (marker.magic !== FORMAT_MAGIC || marker.version !== FORMAT_VERSION || typeof chunkSize !== 'number' || !Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    c.problem(layout.format, 0, `the format marker is not a layout ${FORMAT_VERSION} marker: ${bytes.toString('utf8').trim()}`);
    return null;
  }
  const canonical = Buffer.from(`${JSON.stringify({ magic: FORMAT_MAGIC, version: FORMAT_VERSION, chunkSize })}\n`);
  if (!bytes.equals(canonical)) c.problem(layout.format, 0, 'the format marker parses but differs from the bytes the engine writes (damaged whitespace or field order)');
  return chunkSize;
}

/** Replays the journal read-only into `index`; reports bad frames and every byte after the last valid one. */
async function checkJournal(layout: BlobLayout, index: BlobIndex, c: VerifyCollector): Promise<void> {
  const path = layout.journal;
  let file;
  try {
    file = await open(path, 'r');
  } catch (error) {
    c.problem(path, undefined, `the refcount journal cannot be read: ${(error as Error).message}`);
    return;
  }
  try {
    const size = (await file.stat()).size;
    const magic = Buffer.alloc(JOURNAL_MAGIC.length);
    await file.read(magic, 0, magic.length, 0);
    if (!magic.equals(Buffer.from(JOURNAL_MAGIC))) {
      c.problem(path, 0, 'the refcount journal has a bad header');
      return;
    }
    let pos = JOURNAL_MAGIC.length;
    const header = Buffer.alloc(FRAME_HEADER);
    while (pos < size) {
      const problem = await (async (): Promise<string | { record: JournalRecord; end: number }> => {
        if (pos + FRAME_HEADER > size) return 'a partial frame header';
        await file.read(header, 0, FRAME_HEADER, pos);
        const length = header.readUInt32LE(0);
        if (length === 0 || length > MAX_PAYLOAD || pos + FRAME_HEADER + length > size) return `a frame of length ${length} that does not fit`;
        const payload = Buffer.alloc(length);
        await file.read(payload, 0, length, pos + FRAME_HEADER);
        if (crc32(payload) !== header.readUInt32LE(4)) return 'a frame checksum mismatch';
        try {
          return { record: decodeRecord(payload), end: pos + FRAME_HEADER + length };
        } catch (error) {
          return `a malformed record: ${(error as Error).message}`;
        }
      })();
      if (typeof problem === 'string') {
        c.problem(path, pos, `the refcount journal ends in ${problem} at ${pos} (${size - pos} bytes that are not whole records: damage, or a torn write that open would cut off)`);
        return;
      }
      index.apply(problem.record);
      c.count('journal records');
      pos = problem.end;
    }
  } finally {
    await file.close();
  }
}

/** Checks one chunk file of `dataLen` bytes: size, trailer, every block. Returns false when damaged. */
async function checkChunk(path: string, dataLen: number | null, c: VerifyCollector): Promise<void> {
  const file = await open(path, 'r');
  try {
    const size = (await file.stat()).size;
    if (dataLen === null) {
      // no chunk size: take the length the trailer records, then check that it fits the file
      const tail = Buffer.alloc(8);
      if (size >= 8) await file.read(tail, 0, 8, size - 8);
      dataLen = tail.readUInt32BE(0);
    }
    if (size !== chunkFileSize(dataLen)) {
      c.problem(path, Math.min(size, dataLen), `chunk file is ${size} bytes, ${chunkFileSize(dataLen)} expected for ${dataLen} data bytes`);
      return;
    }
    const trailer = Buffer.alloc(trailerSize(dataLen));
    await file.read(trailer, 0, trailer.length, dataLen);
    const crcs = decodeTrailer(trailer, dataLen);
    if (crcs === null) {
      c.problem(path, dataLen, 'chunk trailer checksum mismatch');
      return;
    }
    const block = Buffer.alloc(SUM_BLOCK);
    for (let b = 0; b * SUM_BLOCK < dataLen; b++) {
      const length = Math.min(SUM_BLOCK, dataLen - b * SUM_BLOCK);
      const { bytesRead } = await file.read(block, 0, length, b * SUM_BLOCK);
      if (bytesRead !== length || blockCrc(block.subarray(0, length)) !== crcs[b]) c.problem(path, b * SUM_BLOCK, `chunk block ${b} checksum mismatch`);
    }
    c.count('chunk files');
    c.count('chunk bytes', dataLen);
  } finally {
    await file.close();
  }
}

/** Lists a directory; null when it does not exist. */
async function list(dir: string): Promise<string[] | null> {
  try {
    return (await readdir(dir)).sort();
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return null;
    throw error;
  }
}

/** Checks revision `revision` of `blobId` (`size` bytes) against its directory. */
async function checkRevision(layout: BlobLayout, blobId: bigint, revision: bigint, size: number, refs: number, chunkSize: number | null, seen: Set<string>, c: VerifyCollector): Promise<void> {
  const dir = layout.revisionDir(blobId, revision);
  const names = await list(dir);
  c.count('revisions');
  if (names === null) {
    if (refs > 0) c.problem(dir, undefined, `blob ${toHex(blobId)} revision ${toHex(revision)} (${size} bytes, ${refs} record reference(s)) has no files`);
    else c.count('unreferenced revisions without files (a removal the next reclaim finishes)');
    return;
  }
  let holes = new HoleSet();
  if (names.includes(HOLES_FILE)) {
    try {
      holes = HoleSet.decode(await readFile(join(dir, HOLES_FILE)), join(dir, HOLES_FILE));
    } catch (error) {
      c.problem(join(dir, HOLES_FILE), 0, error instanceof CorruptionError ? error.message : String(error));
    }
  }
  const count = chunkSize === null ? names.filter((n) => n !== HOLES_FILE).length : chunkCount(size, chunkSize);
  const expected = new Set<string>([HOLES_FILE]);
  for (let i = 0; i < count; i++) {
    const name = chunkName(i);
    expected.add(name);
    const path = join(dir, name);
    if (!names.includes(name)) {
      if (!holes.has(i)) c.problem(path, undefined, `blob ${toHex(blobId)} revision ${toHex(revision)}: chunk ${i} has no file and is no hole`);
      continue;
    }
    const info = await stat(path);
    const key = `${info.dev}:${info.ino}`;
    if (seen.has(key)) continue; // a chunk shared (hard link) with a revision already checked
    seen.add(key);
    const dataLen = chunkSize === null ? null : Math.min(chunkSize, size - i * chunkSize);
    await checkChunk(path, dataLen, c);
  }
  for (const name of names) if (!expected.has(name)) c.problem(join(dir, name), undefined, `a file the revision (${count} chunks) does not hold`);
}

/** Checks the blob directory `root` without changing any file. */
export async function verifyBlobDirectory(root: string, observer: VerifyObserver = {}): Promise<EngineVerifyReport> {
  const c = new VerifyCollector(ENGINE, observer);
  const layout = new BlobLayout(root);
  const chunkSize = await checkFormat(layout, c);
  const index = new BlobIndex();
  index.replaying = true;
  const keys = new Map<string, { blobId: bigint; revision: bigint }>();
  const original = index.apply.bind(index);
  index.apply = (record: JournalRecord): void => {
    if (record.type === 'prepare') for (const d of record.drafts) keys.set(`${d.blobId}:${record.revision}`, { blobId: d.blobId, revision: record.revision });
    if (record.type === 'revision') keys.set(`${record.blobId}:${record.revision}`, { blobId: record.blobId, revision: record.revision });
    original(record);
  };
  await checkJournal(layout, index, c);
  const prepared = new Set(index.prepared().flatMap((txn) => txn.drafts.map((d) => `${d.blobId}:${txn.revision}`)));
  const live = new Set<string>();
  const seen = new Set<string>();
  for (const [key, { blobId, revision }] of keys) {
    const state = index.get(blobId, revision);
    if (state === undefined) continue;
    live.add(key);
    await checkRevision(layout, blobId, revision, state.size, state.refs, chunkSize, seen, c);
  }
  // revision directories the journal does not account for
  for (const b7 of (await list(layout.blobs)) ?? []) {
    for (const b6 of (await list(join(layout.blobs, b7))) ?? []) {
      for (const blob of (await list(join(layout.blobs, b7, b6))) ?? []) {
        for (const tid of (await list(join(layout.blobs, b7, b6, blob))) ?? []) {
          const key = /^[0-9a-f]{16}$/.test(blob) && /^[0-9a-f]{16}$/.test(tid) ? `${BigInt(`0x${blob}`)}:${BigInt(`0x${tid}`)}` : '';
          if (!live.has(key) && !prepared.has(key)) c.problem(join(layout.blobs, b7, b6, blob, tid), undefined, 'a revision directory the refcount journal does not hold');
        }
      }
    }
  }
  return c.report();
}
