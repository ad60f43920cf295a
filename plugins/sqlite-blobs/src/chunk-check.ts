/**
 * Chunk integrity: every chunk row carries the CRC-32 of its bytes (column `chunk.crc`, written with
 * the chunk by whichever connection writes it), and every read of a chunk checks it. Damage, a chunk
 * row missing under its mapping, or a chunk missing where no hole was recorded raises CorruptionError
 * naming the blob, the revision, the byte offset within the blob and the database file.
 */
import { CorruptionError, type BlobId, type Tid } from '@handlerton/framework';

export { chunkChecksum } from './checksum.js';

/** Which blob a chunk read is for: named in CorruptionError messages. */
export interface ChunkOwner {
  readonly blobId: BlobId;
  /** The revision read, or null for a draft (not yet committed). */
  readonly revision: Tid | null;
}

/** The CorruptionError for chunk `seq` of `owner` (bytes from `seq * chunkSize`) in database `file`. */
export function chunkCorruption(
  owner: ChunkOwner,
  seq: number,
  chunkSize: number,
  file: string,
  problem: string,
  cause?: unknown,
): CorruptionError {
  const revision = owner.revision === null ? 'its draft' : `revision ${owner.revision}`;
  const offset = seq * chunkSize;
  return new CorruptionError(
    `blob ${owner.blobId} ${revision}: the chunk at blob offset ${offset} (chunk ${seq}, ${chunkSize} bytes) ${problem}`,
    file,
    undefined,
    cause === undefined ? undefined : { cause },
  );
}
