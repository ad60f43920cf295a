/**
 * Classifies the files of a closed database into kinds of byte ranges (segment transactions,
 * index pages, bloom, footer, refs journal, blob chunk data and trailers, SQLite b-tree pages by
 * type, WAL frames, ...), so that the corruption sweep can damage every kind and report per kind.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/** A byte range of one file that holds one kind of data. */
export interface Region {
  /** The kind, e.g. `segment:index-pages` or `sqlite-blobs:table-leaf`. */
  readonly kind: string;
  /** Path of the file relative to the image directory (with `/`). */
  readonly file: string;
  readonly start: number;
  /** Exclusive end; greater than `start`. */
  readonly end: number;
  /** Damage here may legally be cut off by recovery as a torn tail (the active end of a log). */
  readonly tail: boolean;
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const SEGMENT_MAGIC = Buffer.from('HFS2SEG\0', 'latin1');
const FOOTER_MAGIC = Buffer.from('HFS2IDX\0', 'latin1');
const WAL_MAGICS = [0x377f0682, 0x377f0683];
/** FileStorage2 sealed-segment geometry (plugins/filestorage2/FORMAT.md). */
const FS2 = { header: 64, footer: 80, page: 4096, entry: 32, packedFlag: 1 } as const;
/** FileStorage2 blob chunk trailer: one crc per 64 KiB block, then dataLen and trailer crc. */
const CHUNK_BLOCK = 64 * 1024;

/** Every regular file under `dir`, as paths relative to it with `/` separators, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(at: string): Promise<void> {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out.push(relative(dir, path).split(sep).join('/'));
    }
  }
  await walk(dir);
  return out.sort();
}

async function readAt(path: string, position: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Offset just past the last non-zero byte of the file (preallocated zeros are slack). */
async function usedEnd(path: string, size: number): Promise<number> {
  const step = 64 * 1024;
  for (let end = size; end > 0; end -= step) {
    const start = Math.max(0, end - step);
    const bytes = await readAt(path, start, end - start);
    for (let i = bytes.length - 1; i >= 0; i--) if (bytes[i] !== 0) return start + i + 1;
  }
  return 0;
}

/** Appends `[start, end)` as `kind` when it is not empty. */
function push(out: Region[], kind: string, file: string, start: number, end: number, tail = false): void {
  if (end > start) out.push({ kind, file, start, end, tail });
}

/** Classifies every file of the image `dir` into regions. */
export async function classifyImage(dir: string): Promise<Region[]> {
  const regions: Region[] = [];
  for (const file of await listFiles(dir)) regions.push(...(await classifyFile(dir, file)));
  return regions;
}

async function classifyFile(dir: string, file: string): Promise<Region[]> {
  const path = join(dir, file);
  const size = (await stat(path)).size;
  const out: Region[] = [];
  if (size === 0) return out;
  const name = file.slice(file.lastIndexOf('/') + 1);
  const head = await readAt(path, 0, Math.min(size, 100));
  if (name === 'LOCK' || name.endsWith('.lock')) push(out, 'lock', file, 0, size);
  else if (name === 'LOCATOR_KEY' || name.endsWith('locator.key')) push(out, 'locator-key', file, 0, size);
  else if (name === 'BLOBS-FORMAT') push(out, 'blob-format-marker', file, 0, size);
  else if (name.endsWith('.tmp')) push(out, 'temporary-file', file, 0, size);
  else if (name === 'refs.log') push(out, 'refs-journal', file, 0, size, true);
  else if (name === 'HOLES') push(out, 'blob-holes', file, 0, size);
  else if (head.subarray(0, 8).equals(SEGMENT_MAGIC)) await classifySegment(out, path, file, size, head);
  else if (head.subarray(0, 16).equals(SQLITE_MAGIC)) await classifySqlite(out, path, file, size, head);
  else if (head.length >= 32 && WAL_MAGICS.includes(head.readUInt32BE(0))) classifyWal(out, file, size, head);
  else if (/(^|\/)blobs\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{16}\/[0-9a-f]{16}\/[0-9a-f]{8,}$/.test(file)) classifyChunk(out, file, size);
  else push(out, 'other', file, 0, size);
  return out;
}

async function classifySegment(out: Region[], path: string, file: string, size: number, head: Buffer): Promise<void> {
  const packed = (head.readUInt16BE(10) & FS2.packedFlag) !== 0;
  push(out, 'segment:header', file, 0, Math.min(size, FS2.header));
  const footer = size >= FS2.header + FS2.footer ? await readAt(path, size - FS2.footer, FS2.footer) : Buffer.alloc(0);
  if (footer.length !== FS2.footer || !footer.subarray(0, 8).equals(FOOTER_MAGIC)) {
    const used = await usedEnd(path, size);
    push(out, 'segment:active-transactions', file, FS2.header, Math.max(used, FS2.header), true);
    push(out, 'slack', file, Math.max(used, FS2.header), size);
    return;
  }
  const dataEnd = Number(footer.readBigUInt64BE(8));
  const indexOff = Number(footer.readBigUInt64BE(16));
  const count = Number(footer.readBigUInt64BE(24));
  const bloomBits = footer.readUInt32BE(64);
  const pages = Math.ceil(count / (FS2.page / FS2.entry));
  const pageCrcOff = indexOff + count * FS2.entry;
  const bloomOff = pageCrcOff + pages * 12;
  const footerOff = size - FS2.footer;
  push(out, packed ? 'segment:packed-transactions' : 'segment:sealed-transactions', file, FS2.header, dataEnd);
  push(out, 'slack', file, dataEnd, indexOff);
  push(out, 'segment:index-pages', file, indexOff, pageCrcOff);
  push(out, 'segment:page-crcs-and-fences', file, pageCrcOff, bloomOff);
  push(out, 'segment:bloom', file, bloomOff, Math.min(footerOff, bloomOff + Math.ceil(bloomBits / 8)));
  push(out, 'segment:footer', file, footerOff, size);
}

function classifyChunk(out: Region[], file: string, size: number): void {
  // chunk := data[dataLen] crc:u32 * ceil(dataLen / 64 KiB) dataLen:u32 trailerCrc:u32; find dataLen from the size.
  let dataLen = size - 8;
  while (dataLen > 0 && dataLen + 4 * Math.ceil(dataLen / CHUNK_BLOCK) + 8 > size) dataLen--;
  push(out, 'blob-chunk:data', file, 0, dataLen);
  push(out, 'blob-chunk:trailer', file, dataLen, size);
}

/** SQLite b-tree page kinds by their first byte. */
const PAGE_KINDS: Readonly<Record<number, string>> = { 2: 'index-interior', 5: 'table-interior', 10: 'index-leaf', 13: 'table-leaf' };

async function classifySqlite(out: Region[], path: string, file: string, size: number, head: Buffer): Promise<void> {
  const role = file.endsWith('-blobs') ? 'sqlite-blobs' : 'sqlite';
  const rawPageSize = head.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  push(out, `${role}:file-header`, file, 0, 100);
  const handle = await open(path, 'r');
  try {
    const byte = Buffer.alloc(1);
    for (let page = 0; page * pageSize < size; page++) {
      const start = page * pageSize;
      await handle.read(byte, 0, 1, page === 0 ? 100 : start);
      const kind = PAGE_KINDS[byte[0]!] ?? 'other-page';
      push(out, `${role}:${kind}`, file, page === 0 ? 100 : start, Math.min(size, start + pageSize));
    }
  } finally {
    await handle.close();
  }
}

function classifyWal(out: Region[], file: string, size: number, head: Buffer): void {
  const pageSize = head.readUInt32BE(8);
  const role = file.endsWith('-blobs-wal') ? 'sqlite-blobs-wal' : 'sqlite-wal';
  push(out, `${role}:header`, file, 0, 32, true);
  for (let at = 32; at < size; at += 24 + pageSize) {
    push(out, `${role}:frame-header`, file, at, Math.min(size, at + 24), true);
    push(out, `${role}:frame-page`, file, at + 24, Math.min(size, at + 24 + pageSize), true);
  }
}
