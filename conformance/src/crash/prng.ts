/** Seeded pseudo-random numbers and deterministic byte streams for the crash harness. */

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence on every run. */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
}

/** A 32-bit mix of two integers (deterministic, well spread). */
export function mix32(a: number, b: number): number {
  let h = Math.imul((a >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul((b >>> 0) + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Fills `target` with the bytes at [offset, offset + target.length) of the deterministic stream
 * named by `key`. `offset` must be a multiple of 4, so a stream can be produced piece by piece.
 */
export function fillStream(key: number, offset: number, target: Uint8Array): void {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  const firstWord = offset / 4;
  let i = 0;
  for (; i + 4 <= target.length; i += 4) view.setUint32(i, mix32(key, firstWord + i / 4), true);
  if (i < target.length) {
    const last = mix32(key, firstWord + i / 4);
    for (let j = 0; i + j < target.length; j++) target[i + j] = (last >>> (8 * j)) & 0xff;
  }
}

/** The keyed stream's first `size` bytes as chunks of `chunkSize` (a multiple of 4), generated one at a time. */
export function* streamChunks(key: number, size: number, chunkSize: number): Generator<Uint8Array> {
  for (let offset = 0; offset < size; offset += chunkSize) {
    const chunk = new Uint8Array(Math.min(chunkSize, size - offset));
    fillStream(key, offset, chunk);
    yield chunk;
  }
}
