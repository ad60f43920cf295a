/** Copies every transaction (records and blob revisions) from one engine pair into another. */
import { copyTransactions as copyWithFramework, type BlobId } from '@handlerton/framework';
import type { Engines } from '../types.js';

/** Copies `source` into the empty `target` through iterator + restore; returns the blob id mapping (source -> target). */
export async function copyTransactions(source: Engines, target: Engines): Promise<ReadonlyMap<BlobId, BlobId>> {
  return (await copyWithFramework(source, target)).blobIds;
}
