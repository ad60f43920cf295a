/** Helpers for Database-level blob cases. */
import { Locator, type BlobHandle, type Database, type Oid, type ReadView, type Tid } from '@handlerton/framework';
import { readHandleText } from './blob-io.js';

const enc = new TextEncoder();

/** Creates a blob holding `content` in its own transaction; referenced from the root when `rooted`. */
export async function createBlobWith(db: Database, content: string | Uint8Array, rooted = false): Promise<Oid> {
  return db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    const h = await blob.open('w');
    await h.write(content);
    await h.flush();
    await h.close();
    if (rooted) {
      const root = await tx.tryRead(0n);
      const refs = [...(root?.refs ?? []), blob.oid];
      await tx.write(0n, enc.encode('root'), { refs });
    }
    return blob.oid;
  });
}

/** Replaces the contents of blob `oid` in its own transaction. */
export async function rewriteBlob(db: Database, oid: Oid, content: string | Uint8Array): Promise<void> {
  await db.transaction(async (tx) => {
    const h = await (await tx.blob(oid)).open('w');
    await h.write(content);
    await h.flush();
    await h.close();
  });
}

/** Reads the whole blob `oid` as text in `view`. */
export async function blobText(view: ReadView, oid: Oid): Promise<string> {
  const h = await (await view.blob(oid)).open('r');
  try {
    return await readHandleText(h);
  } finally {
    await h.close();
  }
}

/** Reads blob `oid` as text in a fresh snapshot. */
export async function committedBlobText(db: Database, oid: Oid): Promise<string> {
  const snap = await db.snapshot();
  try {
    return await blobText(snap, oid);
  } finally {
    await snap.close();
  }
}

/** The blob id and revision a handle's locator names. */
export function revisionOf(handle: BlobHandle): { blobId: bigint; revision: Tid } {
  const locator = Locator.from(handle.locator);
  return { blobId: locator.blobId, revision: locator.revision };
}
