/** CRC-32 (IEEE) over byte ranges, using node:zlib. */
import { crc32 as zlibCrc32 } from 'node:zlib';

/** CRC-32 of `bytes`, continuing from `previous` when given. */
export function crc32(bytes: Uint8Array, previous = 0): number {
  return zlibCrc32(bytes, previous) >>> 0;
}
