/** The chunk checksum, in a module of its own so that worker threads load nothing else. */
import { crc32 } from 'node:zlib';

/** The checksum stored with a chunk: CRC-32 (zlib's polynomial) of its bytes. */
export function chunkChecksum(data: Uint8Array): number {
  return crc32(data);
}
