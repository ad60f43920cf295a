/**
 * The chunks of a draft or revision that have no file because they hold only zeros (FORMAT.md
 * "Sparse chunks"): kept as sorted runs of chunk indices, stored in the revision's `HOLES` file:
 *
 *   magic "HTBHOLE1" | count:u32 | (start:u48 end:u48) * count | crc:u32   (big-endian, crc over all before)
 *
 * A chunk inside a run reads as zeros; a chunk outside every run must have its file, so a lost
 * chunk file is damage (CorruptionError), never zeros.
 */
import { join } from 'node:path';
import { CorruptionError } from '@handlerton/framework';
import { blockCrc } from './chunk-sums.js';
import { FsOps, hasCode } from './fs-ops.js';

/** The holes file's name inside a draft or revision directory. */
export const HOLES_FILE = 'HOLES';
const MAGIC = Buffer.from('HTBHOLE1', 'latin1');

/** Sorted, disjoint, non-adjacent runs [start, end) of chunk indices without a file. */
export class HoleSet {
  #runs: [number, number][] = [];

  /** A copy of `other`. */
  static copy(other: HoleSet): HoleSet {
    const set = new HoleSet();
    set.#runs = other.#runs.map(([s, e]) => [s, e]);
    return set;
  }

  /** True when there are no holes. */
  get empty(): boolean {
    return this.#runs.length === 0;
  }

  /** True when chunk `index` is a hole. */
  has(index: number): boolean {
    return this.#find(index) >= 0;
  }

  /** Marks chunks [start, end) as holes. */
  add(start: number, end: number): void {
    if (end <= start) return;
    const runs = this.#runs.filter(([s, e]) => e < start || s > end);
    const merged = this.#runs.filter(([s, e]) => !(e < start || s > end));
    const lo = Math.min(start, ...merged.map(([s]) => s));
    const hi = Math.max(end, ...merged.map(([, e]) => e));
    runs.push([lo, hi]);
    runs.sort((a, b) => a[0] - b[0]);
    this.#runs = runs;
  }

  /** Chunk `index` gets a file: it is no longer a hole. */
  remove(index: number): void {
    const at = this.#find(index);
    if (at < 0) return;
    const [s, e] = this.#runs[at]!;
    const parts: [number, number][] = [];
    if (s < index) parts.push([s, index]);
    if (index + 1 < e) parts.push([index + 1, e]);
    this.#runs.splice(at, 1, ...parts);
  }

  /** Forgets every hole at or after chunk `count` (the blob was cut to `count` chunks). */
  cutFrom(count: number): void {
    this.#runs = this.#runs.filter(([s]) => s < count).map(([s, e]) => [s, Math.min(e, count)]);
  }

  /** The runs of chunk indices in [0, count) that are NOT holes (the chunks that have files). */
  *present(from: number, count: number): Generator<[number, number]> {
    let at = from;
    for (const [s, e] of this.#runs) {
      if (e <= at) continue;
      if (s >= count) break;
      if (s > at) yield [at, s];
      at = Math.max(at, e);
    }
    if (at < count) yield [at, count];
  }

  /** The encoded HOLES file. */
  encode(): Buffer {
    const out = Buffer.alloc(MAGIC.length + 4 + 12 * this.#runs.length + 4);
    MAGIC.copy(out, 0);
    let at = out.writeUInt32BE(this.#runs.length, MAGIC.length);
    for (const [s, e] of this.#runs) {
      at = out.writeUIntBE(s, at, 6);
      at = out.writeUIntBE(e, at, 6);
    }
    out.writeUInt32BE(blockCrc(out.subarray(0, at)), at);
    return out;
  }

  /** Decodes a HOLES file; CorruptionError naming `path` when it does not check. */
  static decode(bytes: Buffer, path: string): HoleSet {
    const bad = (): CorruptionError => new CorruptionError('blob holes file is damaged', path, 0);
    if (bytes.length < MAGIC.length + 8 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) throw bad();
    const count = bytes.readUInt32BE(MAGIC.length);
    const end = MAGIC.length + 4 + 12 * count;
    if (bytes.length !== end + 4 || bytes.readUInt32BE(end) !== blockCrc(bytes.subarray(0, end))) throw bad();
    const set = new HoleSet();
    let last = -1;
    for (let at = MAGIC.length + 4; at < end; at += 12) {
      const s = bytes.readUIntBE(at, 6);
      const e = bytes.readUIntBE(at + 6, 6);
      if (s <= last || e <= s) throw bad();
      set.#runs.push([s, e]);
      last = e;
    }
    return set;
  }

  #find(index: number): number {
    let lo = 0;
    let hi = this.#runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [s, e] = this.#runs[mid]!;
      if (index < s) hi = mid - 1;
      else if (index >= e) lo = mid + 1;
      else return mid;
    }
    return -1;
  }
}

/** Reads the holes of the draft or revision in `dir`: none when it has no HOLES file. Raw I/O errors escape. */
export async function readHoles(ops: FsOps, dir: string): Promise<HoleSet> {
  const path = join(dir, HOLES_FILE);
  try {
    return HoleSet.decode(await ops.readSmallFile(path), path);
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return new HoleSet();
    throw error;
  }
}

/** Writes (and with `sync`, fdatasyncs) the HOLES file of `dir`. Raw I/O errors escape. */
export async function writeHoles(ops: FsOps, dir: string, holes: HoleSet, sync: boolean): Promise<void> {
  const bytes = holes.encode();
  const fd = await ops.open(join(dir, HOLES_FILE), 'w');
  try {
    await ops.writeFully(fd, bytes, 0, bytes.length, 0);
    if (sync) await ops.fdatasync(fd);
  } finally {
    await ops.close(fd);
  }
}
