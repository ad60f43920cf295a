/** Test helper: a storage commit whose blob transaction is prepared and never committed (a client dying in between). */
import { blobTransaction, storageTransaction, type BlobHandlerton, type BlobTransaction, type Storage } from '@handlerton/framework';

/** A storage and a blob handlerton of one client. */
export interface Client {
  readonly storage: Storage;
  readonly blobs: BlobHandlerton;
}

/** Prepares a 3-byte blob revision and stores the record referencing it; finishes or aborts the storage, never commits the blob. */
export async function commitStorageOnly(client: Client, finish: boolean): Promise<{ blobId: bigint; revision: bigint; btxn: BlobTransaction }> {
  const { storage, blobs } = client;
  const txn = storageTransaction();
  const btxn = blobTransaction();
  const blobId = await blobs.createBlob();
  const oid = await storage.newOid();
  const draft = await blobs.createDraft(btxn, blobId, oid, null);
  await draft.write(new Uint8Array([1, 2, 3]), 0);
  const revision = await storage.tpcBegin(txn);
  const refs = { oids: [], blobs: [{ handlerton: blobs.name, blobId, revision }] };
  await blobs.addReferences(btxn, refs.blobs);
  await blobs.prepare(btxn, revision, oid);
  await storage.store(oid, 0n, { data: new Uint8Array([7]), refs }, txn);
  await storage.tpcVote(txn);
  if (finish) await storage.tpcFinish(txn);
  else await storage.tpcAbort(txn);
  return { blobId, revision, btxn };
}
