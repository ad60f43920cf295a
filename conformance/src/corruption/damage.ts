/**
 * One damaged state of the corruption sweep: which image, file, kind and bytes it damages (derived
 * from the sweep seed and the state number only, so any state can be replayed alone), and applying
 * it to a fresh copy of the image.
 */
import { cp, open, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { mix32, Prng } from '../crash/prng.js';
import type { Region } from './file-kinds.js';

/** A reference image: the database closed cleanly, or copied while open (a killed process's files). */
export interface Image {
  readonly name: 'closed' | 'live';
  readonly dir: string;
  readonly regions: readonly Region[];
}

/** The damage of one state. */
export interface Damage {
  readonly state: number;
  readonly image: Image['name'];
  readonly kind: string;
  /** Relative to the image directory. */
  readonly file: string;
  readonly mode: 'flip' | 'truncate';
  /** flip: the offsets whose bytes are XORed with `masks`; truncate: the new length. */
  readonly offsets: readonly number[];
  readonly masks: readonly number[];
  /** Recovery may cut the damaged bytes off as a torn tail. */
  readonly tail: boolean;
}

/** Most bytes one flip damages. */
export const MAX_FLIPPED_BYTES = 8;

/** Picks the damage of state `state` of a sweep seeded `seed` over `kinds` (every kind in turn). */
export function planDamage(seed: number, state: number, kinds: readonly string[], images: readonly Image[], truncateRate = 0.3): Damage {
  const prng = new Prng(mix32(seed, state));
  const kind = kinds[state % kinds.length]!;
  const candidates = images.flatMap((image) => image.regions.filter((region) => region.kind === kind).map((region) => ({ image, region })));
  if (candidates.length === 0) throw new Error(`no region of kind ${kind}`);
  const { image, region } = candidates[prng.int(0, candidates.length - 1)]!;
  const first = prng.int(region.start, region.end - 1);
  const base = { state, image: image.name, kind, file: region.file, tail: region.tail };
  if (prng.next() < truncateRate) return { ...base, mode: 'truncate', offsets: [first], masks: [] };
  const count = prng.int(1, MAX_FLIPPED_BYTES);
  const clustered = prng.next() < 0.5;
  const offsets = new Set<number>([first]);
  for (let i = 1; i < count; i++) {
    const spread = clustered ? 16 : 512;
    offsets.add(Math.min(region.end - 1, Math.max(region.start, first + prng.int(-spread, spread))));
  }
  const sorted = [...offsets].sort((a, b) => a - b);
  return { ...base, mode: 'flip', offsets: sorted, masks: sorted.map(() => prng.int(1, 255)) };
}

/** One line describing `damage` for progress output and violations. */
export function describeDamage(damage: Damage): string {
  const what = damage.mode === 'truncate' ? `truncated at ${damage.offsets[0]}` : `${damage.offsets.length} byte(s) flipped at ${damage.offsets.join(',')}`;
  return `state ${damage.state}: ${damage.image}/${damage.file} [${damage.kind}] ${what}`;
}

/** Copies `image` to `dir` and applies `damage` there. */
export async function applyDamage(image: Image, damage: Damage, dir: string): Promise<void> {
  await cp(image.dir, dir, { recursive: true });
  const path = join(dir, damage.file);
  if (damage.mode === 'truncate') {
    await truncate(path, damage.offsets[0]);
    return;
  }
  const handle = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    for (let i = 0; i < damage.offsets.length; i++) {
      const at = damage.offsets[i]!;
      await handle.read(byte, 0, 1, at);
      byte[0] = byte[0]! ^ damage.masks[i]!;
      await handle.write(byte, 0, 1, at);
    }
  } finally {
    await handle.close();
  }
}
