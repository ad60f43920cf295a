/** Small encodings shared by the multi-client parent and children: counters and deterministic blob bytes. */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

/** A record holding one unsigned 32-bit value (big-endian). */
export function encodeU32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/** The value of a record written by encodeU32 (throws on another length). */
export function decodeU32(data: Uint8Array): number {
  if (data.length !== 4) throw new Error(`expected a 4-byte counter record, got ${data.length} bytes`);
  return new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
}

const CHUNK = 64 * 1024;

/** `size` deterministic bytes for `seed`, as 64 KiB chunks (never the whole blob in memory). */
export function* blobBytes(seed: number, size: number): Generator<Uint8Array> {
  let state = seed >>> 0 || 1;
  for (let offset = 0; offset < size; offset += CHUNK) {
    const chunk = new Uint8Array(Math.min(CHUNK, size - offset));
    for (let i = 0; i < chunk.length; i += 4) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      chunk[i] = state & 0xff;
      if (i + 1 < chunk.length) chunk[i + 1] = (state >>> 8) & 0xff;
      if (i + 2 < chunk.length) chunk[i + 2] = (state >>> 16) & 0xff;
      if (i + 3 < chunk.length) chunk[i + 3] = state >>> 24;
    }
    yield chunk;
  }
}

/** sha256 (hex) and size of blobBytes(seed, size). */
export function expectedBlobDigest(seed: number, size: number): { readonly size: number; readonly sha256: string } {
  const hash = createHash('sha256');
  for (const chunk of blobBytes(seed, size)) hash.update(chunk);
  return { size, sha256: hash.digest('hex') };
}

/** sha256 (hex) and size of everything `stream` yields. */
export async function digestStream(stream: Readable): Promise<{ readonly size: number; readonly sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    const bytes = chunk as Uint8Array;
    hash.update(bytes);
    size += bytes.length;
  }
  return { size, sha256: hash.digest('hex') };
}
