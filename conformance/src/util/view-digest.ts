/** Byte comparison and streamed blob digests shared by the crash harnesses' checkers. */
import { createHash } from 'node:crypto';
import type { Oid, ReadView } from '@handlerton/framework';

/** True when `a` and `b` hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Size and SHA-256 of a committed blob as `view` sees it, streamed (never whole in memory). */
export async function blobDigest(view: ReadView, oid: Oid): Promise<{ size: number; sha: string }> {
  const handle = await (await view.blob(oid)).open('r');
  try {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of handle.createReadStream({ highWaterMark: 256 * 1024 })) {
      const bytes = chunk as Uint8Array;
      size += bytes.length;
      hash.update(bytes);
    }
    return { size, sha: hash.digest('hex') };
  } finally {
    await handle.close();
  }
}
