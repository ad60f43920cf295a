/**
 * Opening a blob directory: lock, format marker, journal replay, then tmp/ cleanup (drafts of
 * prepared transactions stay, drafts of committed ones are moved into place, the rest go), and
 * journal compaction when it has grown well past the live state.
 */
import { join } from 'node:path';
import type { Logger } from '@handlerton/framework';
import { isHandlertonError, StorageIOError } from '@handlerton/framework';
import { BlobIndex } from './blob-index.js';
import { lockDirectory } from './dir-lock.js';
import { loadOrCreateFormat } from './format-file.js';
import { FsOps, ioError } from './fs-ops.js';
import { Journal, replayJournal, writeJournal } from './journal.js';
import { BlobLayout, parseDraftName } from './layout.js';
import type { FileStorage2BlobsOptions } from './options.js';
import { RevisionFiles } from './revision-files.js';

/** Journals smaller than this are never compacted at open. */
const COMPACT_MIN_BYTES = 1024 * 1024;

/** Everything an open blob directory is made of. */
export interface OpenedDirectory {
  readonly layout: BlobLayout;
  readonly chunkSize: number;
  readonly index: BlobIndex;
  readonly journal: Journal;
  readonly files: RevisionFiles;
  readonly releaseLock: () => Promise<void>;
}

/** Opens (creating when new) the blob directory described by `options`. */
export async function openDirectory(
  ops: FsOps,
  options: Required<FileStorage2BlobsOptions>,
  logger: Logger,
): Promise<OpenedDirectory> {
  const layout = new BlobLayout(options.dir);
  if (options.readOnly) return openReadOnly(ops, layout, options, logger);
  const sync = options.syncMode !== 'none';
  try {
    await ops.mkdirDurable(layout.root, sync);
  } catch (error) {
    throw ioError(`creating blob directory ${layout.root}`, error);
  }
  const releaseLock = await lockDirectory(ops, layout.root, layout.lock).catch((error: unknown) => {
    throw isHandlertonError(error) ? error : ioError(`locking ${layout.lock}`, error);
  });
  try {
    const isNew = !(await ops.exists(layout.journal));
    const chunkSize = await loadOrCreateFormat(ops, layout.format, options.chunkSize, isNew, sync, layout.blobs);
    await ops.mkdirDurable(layout.tmp, sync);
    await ops.mkdirDurable(layout.blobs, sync);
    await ops.rmTree(`${layout.journal}.tmp`);
    if (isNew) await writeJournal(ops, layout.journal, layout.root, [], sync);
    const index = new BlobIndex();
    index.replaying = true;
    const replayed = await replayJournal(ops, layout.journal, (record) => index.apply(record));
    index.finishReplay();
    const files = new RevisionFiles(ops, layout, logger);
    await sweepTmp(ops, layout, index, files, sync, logger);
    index.replayedCommits.clear();
    let end = replayed.bytes;
    if (end >= COMPACT_MIN_BYTES && replayed.records > 4 * (index.revisionCount + index.prepared().length + 1)) {
      await writeJournal(ops, layout.journal, layout.root, index.snapshot(), sync);
      const fd = await ops.open(layout.journal, 'r');
      end = await ops.fsize(fd).finally(() => ops.close(fd));
      logger.info({ before: replayed.bytes, after: end }, 'compacted blob refcount journal');
    }
    const journal = await Journal.open(ops, layout.journal, end);
    return { layout, chunkSize, index, journal, files, releaseLock };
  } catch (error) {
    await releaseLock();
    throw isHandlertonError(error) ? error : ioError(`opening blob directory ${layout.root}`, error);
  }
}

/**
 * Read-only: replays the journal of an existing directory, takes no lock (a live store may be
 * inspected), sweeps and creates nothing; prepared transactions stay undecided (invisible).
 */
async function openReadOnly(ops: FsOps, layout: BlobLayout, options: Required<FileStorage2BlobsOptions>, logger: Logger): Promise<OpenedDirectory> {
  if (!(await ops.exists(layout.journal))) {
    throw new StorageIOError(`blob directory ${layout.root} has no journal (read-only open creates nothing)`);
  }
  try {
    const chunkSize = await loadOrCreateFormat(ops, layout.format, options.chunkSize, false, false, layout.blobs);
    const index = new BlobIndex();
    index.replaying = true;
    const replayed = await replayJournal(ops, layout.journal, (record) => index.apply(record));
    index.finishReplay();
    index.replayedCommits.clear();
    const journal = await Journal.open(ops, layout.journal, replayed.bytes, 'r');
    return { layout, chunkSize, index, journal, files: new RevisionFiles(ops, layout, logger), releaseLock: async () => {} };
  } catch (error) {
    throw isHandlertonError(error) ? error : ioError(`opening blob directory ${layout.root} read-only`, error);
  }
}

/** Keeps drafts of prepared transactions, finishes the renames of committed ones, removes the rest. */
async function sweepTmp(
  ops: FsOps,
  layout: BlobLayout,
  index: BlobIndex,
  files: RevisionFiles,
  sync: boolean,
  logger: Logger,
): Promise<void> {
  for (const name of await ops.readdir(layout.tmp)) {
    const parsed = parseDraftName(name);
    const path = join(layout.tmp, name);
    if (parsed !== null) {
      const pending = index.preparedTxn(parsed.txnSeq);
      if (pending?.drafts.some((d) => d.blobId === parsed.blobId)) continue;
      const committed = index.replayedCommits.get(parsed.txnSeq);
      if (committed?.drafts.some((d) => d.blobId === parsed.blobId)) {
        if (await ops.exists(layout.revisionDir(parsed.blobId, committed.revision))) {
          await ops.rmTree(path);
        } else {
          await files.publish([{ blobId: parsed.blobId, dir: path }], committed.revision, sync);
          logger.info({ blobId: String(parsed.blobId), revision: String(committed.revision) }, 'finished publishing a committed blob revision');
        }
        continue;
      }
    }
    await ops.rmTree(path);
  }
}
