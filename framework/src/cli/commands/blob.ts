/**
 * `handlerton blob put|get|ls`: blobs in and out of a database from the command line, streamed
 * (never whole in memory). A put commits nothing unless the whole input arrived; a get writes to a
 * temporary file beside the output and renames it only when every byte was written.
 */
import type { Command } from 'commander';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable, Transform } from 'node:stream';
import { InvalidArgumentError, NotSupportedError } from '../../contracts/errors.js';
import { toHex, type Oid } from '../../contracts/ids.js';
import type { BlobHandle, Database, ReadView } from '../../contracts/database.js';
import { openDatabase } from '../../di/open-database.js';
import { parseHexId } from '../ids-arg.js';
import { countingStream, startProgress } from '../progress.js';
import type { Report } from '../output.js';
import { inspectTarget, parseTarget } from '../target.js';
import { openNamedDatabase } from '../default-database.js';
import type { Output } from './history.js';

/** A database as `openDatabase` returns it (with its engines). */
type OpenedDatabase = Awaited<ReturnType<typeof openDatabase>>;

/** Registers `blob put`, `blob get` and `blob ls`. */
export function registerBlobCommands(program: Command, output: Output, quiet: () => boolean): void {
  const blob = program.command('blob').description('put, get and list blobs (streamed)');

  blob
    .command('put')
    .description('store a file (or standard input: -) as a new blob, or as a new revision of blob object --oid; prints its oid and read locator')
    .argument('<config>', 'engine config or path of an existing database')
    .argument('<file>', 'file to store, or - for standard input')
    .option('--oid <oid>', 'replace the content of this existing blob object (hex)')
    .action(async (config: string, file: string, options: { oid?: string }) => {
      const oid = options.oid === undefined ? undefined : parseHexId(options.oid, '--oid');
      const total = file === '-' ? undefined : (await stat(file).catch(() => undefined))?.size;
      // No await between creating the stream and listening for its 'open': it could pass unheard.
      const input = file === '-' ? process.stdin : createReadStream(file);
      // Open the source first: a missing file fails before the database is opened.
      await new Promise<void>((resolve, reject) => (file === '-' ? resolve() : input.once('open', () => resolve()).once('error', reject))).catch((error: unknown) => {
        throw new InvalidArgumentError(`file "${file}" cannot be read: ${error instanceof Error ? error.message : String(error)}`);
      });
      const db = await openDatabase(parseTarget(config));
      try {
        const progress = startProgress('blob put', 'bytes', { quiet: quiet(), ...(total === undefined ? {} : { total }) });
        try {
          output(await putBlob(db, input, countingStream(progress), oid));
        } finally {
          progress.stop();
        }
      } finally {
        await db.close();
      }
    });

  blob
    .command('get')
    .description('write the current revision of a blob object (oid) or the revision a locator names to a file or standard output')
    .argument('<config>', 'engine config or path of an existing database')
    .argument('<blob>', 'blob object id (hex) or a read locator (hl1....)')
    .argument('[file]', 'output file, or - for standard output', '-')
    .option('--range <a-b>', 'only bytes a..b (inclusive, as HTTP ranges: "100-199", "100-", "-50" for the last 50)')
    .action(async (config: string, which: string, file: string, options: { range?: string }) => {
      const db = await openDatabase(inspectTarget(parseTarget(config)));
      try {
        await getBlob(db, which, file, options.range, quiet());
      } finally {
        await db.close();
      }
    });

  blob
    .command('ls')
    .description('list the current blob objects with their size and revision (read-only)')
    .argument('[config]', 'engine config or path of an existing database (default: $HANDLERTON_DB, then handlerton.json)')
    .action(async (named: string | undefined) => {
      const { db } = await openNamedDatabase(named, 'inspect');
      try {
        output(await listBlobs(db));
      } finally {
        await db.close();
      }
    });
}

/** Streams `input` into a new blob (or blob object `oid`) in one transaction; nothing is committed when the input fails. */
async function putBlob(db: Database, input: Readable, counter: Transform, oid: Oid | undefined): Promise<Report> {
  const result = await db.transaction(async (tx) => {
    const blob = oid === undefined ? await tx.createBlob() : await tx.blob(oid);
    const handle = await blob.open('w');
    await pipeline(input, counter, handle.createWriteStream());
    const size = handle.size();
    await handle.close();
    return { oid: blob.oid, size };
  });
  // The committed revision's read locator, from a view that sees it (inside the writing transaction
  // a blob's locator names the revision that transaction started from).
  const snapshot = await db.snapshot();
  let locator: string;
  try {
    locator = (await snapshot.blob(result.oid)).locator().toString();
  } finally {
    await snapshot.close();
  }
  const json = { oid: toHex(result.oid), size: result.size, lastTransaction: toHex(db.lastTransaction()), locator };
  return { json, lines: [`stored ${result.size} bytes as blob ${json.oid}`, `locator: ${locator}`] };
}

/** Opens what `which` names for reading: a locator, or the current revision of a blob object. */
async function openForGet(db: Database, which: string, view: ReadView): Promise<BlobHandle> {
  // Locator strings are `hl<version>.<base64url>`; oids are plain hex.
  if (/^hl\d+\./.test(which)) return db.openLocator(which);
  const oid = parseHexId(which, 'blob');
  return (await view.blob(oid)).open('r');
}

/** Streams a blob (or a range of it) to `file` (written under a temporary name, renamed at the end) or to standard output. */
async function getBlob(db: Database, which: string, file: string, rangeText: string | undefined, quiet: boolean): Promise<void> {
  const snapshot = await db.snapshot();
  try {
    const handle = await openForGet(db, which, snapshot);
    try {
      const range = rangeText === undefined ? undefined : parseRange(rangeText, handle.size());
      const progress = startProgress('blob get', 'bytes', { quiet: quiet || file === '-', total: range === undefined ? handle.size() : range.end + 1 - range.start });
      const source = handle.createReadStream(range === undefined ? {} : { start: range.start, end: range.end + 1 });
      try {
        if (file === '-') {
          await pipeline(source, process.stdout, { end: false });
          return;
        }
        const temporary = join(dirname(file), `.${basename(file)}.handlerton-${process.pid}.tmp`);
        try {
          await pipeline(source, countingStream(progress), createWriteStream(temporary, { flags: 'wx' }));
          await rename(temporary, file);
        } catch (error) {
          await rm(temporary, { force: true });
          throw error;
        }
      } finally {
        progress.stop();
      }
    } finally {
      await handle.close();
    }
  } finally {
    await snapshot.close();
  }
}

/** An HTTP-style byte range of a blob of `size` bytes: inclusive start and end. */
function parseRange(text: string, size: number): { start: number; end: number } {
  const match = /^\s*(\d*)-(\d*)\s*$/.exec(text);
  let start = Number.NaN;
  let end = Number.NaN;
  if (match !== null && match[1] !== '') {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  } else if (match !== null && match[2] !== '') {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > end || start >= size) {
    throw new InvalidArgumentError(`--range "${text}" is not a satisfiable byte range of a blob of ${size} bytes (e.g. 0-99, 100-, -50)`);
  }
  return { start, end };
}

/** Every current blob object with its size and revision, from one snapshot. */
async function listBlobs(db: OpenedDatabase): Promise<Report> {
  if (!db.storage.capabilities.iterator) throw new NotSupportedError('iterator', db.storage.name);
  const candidates = new Set<Oid>();
  for await (const txn of db.storage.iterator()) {
    for (const rec of txn.records) {
      if (rec.record === null) candidates.delete(rec.oid);
      else if (rec.record.refs.blobs.length > 0) candidates.add(rec.oid);
      else candidates.delete(rec.oid);
    }
  }
  const snapshot = await db.snapshot();
  const blobs: { oid: string; size: number; revision: string }[] = [];
  try {
    for (const oid of [...candidates].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      const record = await snapshot.tryRead(oid);
      if (record === undefined) continue;
      const handle = await (await snapshot.blob(oid)).open('r');
      try {
        blobs.push({ oid: toHex(oid), size: handle.size(), revision: toHex(record.tid) });
      } finally {
        await handle.close();
      }
    }
  } finally {
    await snapshot.close();
  }
  const lines = blobs.map((b) => `${b.oid} ${String(b.size).padStart(14)} bytes  revision ${b.revision}`);
  if (blobs.length === 0) lines.push('no blobs');
  return { json: { blobs }, lines };
}
