/** A file through a Database's blob streams and back (1 MiB pieces), as the blob benchmarks measure it. */
import type { Database, Oid } from '@handlerton/framework';
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { MiB } from './io.js';

/** Streams `src` into a new blob referenced from the root, in one transaction; returns its oid. */
export async function writeFileAsBlob(db: Database, src: string): Promise<Oid> {
  return db.transaction(async (tx) => {
    const blob = await tx.createBlob();
    const handle = await blob.open('w');
    await pipeline(createReadStream(src, { highWaterMark: MiB }), handle.createWriteStream());
    await tx.write(0n, new TextEncoder().encode('root'), { refs: [blob.oid] });
    return blob.oid;
  });
}

/** Streams blob `oid`'s committed revision through a snapshot into the file `dst`. */
export async function readBlobToFile(db: Database, oid: Oid, dst: string): Promise<void> {
  const snapshot = await db.snapshot();
  try {
    const handle = await (await snapshot.blob(oid)).open('r');
    await pipeline(handle.createReadStream({ highWaterMark: MiB }), createWriteStream(dst, { highWaterMark: MiB }));
    await handle.close();
  } finally {
    await snapshot.close();
  }
}
