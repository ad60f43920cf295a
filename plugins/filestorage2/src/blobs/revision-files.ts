/** Publishing drafts as revisions (rename + directory fsync) and removing revisions. */
import { dirname } from 'node:path';
import type { BlobId, Logger, Tid } from '@handlerton/framework';
import { FsOps, hasCode } from './fs-ops.js';
import type { BlobLayout } from './layout.js';
import { SerialQueue } from './serial-queue.js';

/** One draft directory to publish. */
export interface DraftToPublish {
  readonly blobId: BlobId;
  readonly dir: string;
}

/** Moves revisions in and out of the blob tree; blob directories are created and removed under one lock. */
export class RevisionFiles {
  readonly #ops: FsOps;
  readonly #layout: BlobLayout;
  readonly #logger: Logger;
  /** Serialises "mkdir + rename" against "rmdir of an empty blob directory". */
  readonly #dirs = new SerialQueue();

  constructor(ops: FsOps, layout: BlobLayout, logger: Logger) {
    this.#ops = ops;
    this.#layout = layout;
    this.#logger = logger;
  }

  /**
   * Renames each draft directory to its revision directory, then (with `sync`) fsyncs every
   * directory whose entries changed. Missing blob directories are created first and, with `sync`,
   * made durable (their parents fsynced, in parallel) before any draft moves into them. A draft
   * already in place (a redone commit) is fine. Returns the revision directories now in place.
   * Raw node errors escape.
   */
  async publish(drafts: readonly DraftToPublish[], revision: Tid, sync: boolean, published: string[] = []): Promise<string[]> {
    const toSync = new Set<string>();
    await this.#dirs.run(async () => {
      const newEntries = new Set<string>();
      for (const draft of drafts) {
        const blobDir = this.#layout.blobDir(draft.blobId);
        const created = await this.#ops.mkdirp(blobDir);
        if (created !== undefined) for (let dir = blobDir; dir.length >= created.length; dir = dirname(dir)) newEntries.add(dirname(dir));
      }
      // The new directories must be durable before a draft moves into them: otherwise a power cut
      // can keep the move (the draft has left tmp/) but lose the new chain that leads to it.
      if (sync) await Promise.all([...newEntries].map((dir) => this.#ops.fsyncDir(dir)));
      for (const draft of drafts) {
        const target = this.#layout.revisionDir(draft.blobId, revision);
        try {
          await this.#ops.rename(draft.dir, target);
        } catch (error) {
          // Already in place (a redone commit): the draft is gone, or a stale copy of it is left.
          if (!hasCode(error, 'ENOENT', 'ENOTEMPTY', 'EEXIST') || !(await this.#ops.exists(target))) throw error;
          await this.#ops.rmTree(draft.dir);
        }
        published.push(target);
        toSync.add(this.#layout.blobDir(draft.blobId));
      }
    });
    if (sync) await Promise.all([...toSync].map((dir) => this.#ops.fsyncDir(dir)));
    return published;
  }

  /** Removes a revision's directory and, when it was the last one, its blob directory. Raw errors escape. */
  async remove(blobId: BlobId, revision: Tid): Promise<void> {
    await this.#ops.rmTree(this.#layout.revisionDir(blobId, revision));
    const blobDir = this.#layout.blobDir(blobId);
    await this.#dirs.run(async () => {
      await this.#ops.rmdir(blobDir).catch((error: unknown) => {
        if (!hasCode(error, 'ENOTEMPTY', 'EEXIST', 'ENOENT')) {
          this.#logger.warn({ err: error, blobDir }, 'could not remove empty blob directory');
        }
      });
    });
  }
}
