/** Settling a transaction that a crash left prepared: publish its drafts, or remove them. */
import type { Logger } from '@handlerton/framework';
import type { BlobIndex, PreparedTxn } from './blob-index.js';
import type { FsOps } from './fs-ops.js';
import type { JournalRecord } from './journal-codec.js';
import type { BlobLayout } from './layout.js';
import type { RevisionFiles } from './revision-files.js';

/** What settling needs from the handlerton. */
export interface RecoveryEnvironment {
  readonly ops: FsOps;
  readonly layout: BlobLayout;
  readonly files: RevisionFiles;
  readonly index: BlobIndex;
  readonly logger: Logger;
  readonly sync: boolean;
  readonly log: (records: JournalRecord[], sync: boolean) => Promise<void>;
}

/**
 * Commits (publishes, accepting drafts already renamed into place) or discards (removes from
 * tmp/ and from the blob tree) a transaction found prepared at open, then journals the outcome.
 * Raw errors escape.
 */
export async function resolvePrepared(env: RecoveryEnvironment, txn: PreparedTxn, committed: boolean): Promise<void> {
  const { ops, layout } = env;
  const drafts = txn.drafts.map((d) => ({ blobId: d.blobId, dir: layout.draftDir(txn.txnSeq, d.blobId) }));
  if (committed) {
    const present: typeof drafts = [];
    for (const d of drafts) {
      if ((await ops.exists(d.dir)) || (await ops.exists(layout.revisionDir(d.blobId, txn.revision)))) {
        present.push(d);
      } else {
        env.logger.error({ blobId: String(d.blobId), revision: String(txn.revision) }, 'prepared blob revision lost its files');
      }
    }
    await env.files.publish(present, txn.revision, env.sync);
  } else {
    for (const d of drafts) {
      await ops.rmTree(d.dir);
      await ops.rmTree(layout.revisionDir(d.blobId, txn.revision));
    }
  }
  const record: JournalRecord = committed ? { type: 'commit', txnSeq: txn.txnSeq } : { type: 'abort', txnSeq: txn.txnSeq };
  await env.log([record], env.sync);
  env.index.apply(record);
  env.logger.info({ txnSeq: String(txn.txnSeq), committed }, 'resolved a prepared blob transaction');
}
