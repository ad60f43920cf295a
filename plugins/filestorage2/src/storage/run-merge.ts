/** Merges sorted runs of (oid key, entry number) into one increasing stream. */
import type { SortedRun } from './active-index.js';

/** Walks several sorted runs in increasing key order (keys are distinct across runs). */
export class RunMerge {
  private readonly pos: number[];
  /** The key of the entry `next` returned last. */
  key = -1;

  constructor(private readonly runs: readonly SortedRun[]) {
    this.pos = runs.map(() => 0);
  }

  /** The entry number with the next smallest key, or -1 when every run is used up. */
  next(): number {
    const runs = this.runs;
    let best = -1;
    let bestKey = Infinity;
    for (let r = 0; r < runs.length; r++) {
      const p = this.pos[r]!;
      const keys = runs[r]!.keys;
      if (p < keys.length && keys[p]! < bestKey) {
        bestKey = keys[p]!;
        best = r;
      }
    }
    if (best < 0) return -1;
    const p = this.pos[best]!;
    this.pos[best] = p + 1;
    this.key = bestKey;
    return runs[best]!.ids[p]!;
  }
}
