/** Merges sorted runs of (oid key, entry number) into one increasing stream. */
import type { SortedRun } from './active-index.js';

/** Walks several sorted runs in increasing key order (keys are distinct across runs): a binary heap of run heads. */
export class RunMerge {
  /** Run numbers, ordered as a min-heap by the key at each run's position. */
  private readonly heap: number[] = [];
  private readonly pos: number[];
  /** The key of the entry `next` returned last. */
  key = -1;

  constructor(private readonly runs: readonly SortedRun[]) {
    this.pos = runs.map(() => 0);
    runs.forEach((run, r) => {
      if (run.keys.length > 0) this.push(r);
    });
  }

  /** The entry number with the next smallest key, or -1 when every run is used up. */
  next(): number {
    const heap = this.heap;
    if (heap.length === 0) return -1;
    const r = heap[0]!;
    const run = this.runs[r]!;
    const p = this.pos[r]!;
    this.key = run.keys[p]!;
    const id = run.ids[p]!;
    this.pos[r] = p + 1;
    if (p + 1 < run.keys.length) {
      this.siftDown(0);
    } else {
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        this.siftDown(0);
      }
    }
    return id;
  }

  private head(r: number): number {
    return this.runs[r]!.keys[this.pos[r]!]!;
  }

  private push(r: number): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(r);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.head(heap[parent]!) <= this.head(r)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = r;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const r = heap[i]!;
    const key = this.head(r);
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && this.head(heap[right]!) < this.head(heap[left]!) ? right : left;
      if (this.head(heap[child]!) >= key) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = r;
  }
}
