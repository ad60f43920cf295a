/**
 * Sorted runs for the garbage collector's bounded-memory sets. A run holds entries of `stride`
 * unsigned 64-bit words (the first word is the key), sorted by key with unique keys: in memory as a
 * BigUint64Array while small, in a temporary file (native word order) past the store's threshold.
 */
import { mkdtemp, open, rm, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Words per entry: 1 for a set of oids, 2 for oid -> tid pairs. */
export type Stride = 1 | 2;

/** Entries per chunk read from or written to a spilled run. */
export const CHUNK_ENTRIES = 16_384;

const EMPTY = new BigUint64Array(0);

/** Where spilled runs go: one temporary directory, made on first spill and removed by close(). */
export class RunStore {
  readonly #parent: string;
  #dir: Promise<string> | undefined;
  #seq = 0;
  /** Number of runs written to files so far. */
  spills = 0;

  /** `memoryEntries`: how many entries a set may hold in memory before its runs go to files. */
  constructor(
    readonly memoryEntries: number,
    parent: string = tmpdir(),
  ) {
    this.#parent = parent;
  }

  /** True when a run of `entries` entries stays in memory. */
  inMemory(entries: number): boolean {
    return entries <= Math.max(1, Math.floor(this.memoryEntries / 2));
  }

  /** A fresh file path in the store's directory. */
  async newPath(): Promise<string> {
    this.#dir ??= mkdtemp(join(this.#parent, 'handlerton-gc-'));
    this.spills++;
    return join(await this.#dir, `run-${this.#seq++}.bin`);
  }

  /** Removes the directory and every run left in it. Never throws for a missing directory. */
  async close(): Promise<void> {
    const dir = this.#dir === undefined ? undefined : await this.#dir.catch(() => undefined);
    this.#dir = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

/** One sorted run, in memory or in a file. */
export class Run {
  #fh: FileHandle | undefined;
  readonly #probe = new BigUint64Array(1);

  private constructor(
    readonly stride: Stride,
    readonly count: number,
    readonly data: BigUint64Array | undefined,
    readonly path: string | undefined,
  ) {}

  /** A run over `data` (sorted, unique keys; length a multiple of `stride`). */
  static memory(stride: Stride, data: BigUint64Array): Run {
    return new Run(stride, data.length / stride, data, undefined);
  }

  /** A run already written to `path`. */
  static file(stride: Stride, count: number, path: string): Run {
    return new Run(stride, count, undefined, path);
  }

  /** The entries in key order, in chunks of whole entries. */
  async *chunks(entries = CHUNK_ENTRIES): AsyncGenerator<BigUint64Array> {
    const words = entries * this.stride;
    if (this.data !== undefined) {
      for (let i = 0; i < this.data.length; i += words) yield this.data.subarray(i, i + words);
      return;
    }
    if (this.path === undefined || this.count === 0) return;
    const fh = await open(this.path, 'r');
    try {
      let position = 0;
      const total = this.count * this.stride * 8;
      while (position < total) {
        const chunk = new BigUint64Array(Math.min(words, (total - position) / 8));
        const { bytesRead } = await fh.read(new Uint8Array(chunk.buffer), 0, chunk.byteLength, position);
        if (bytesRead !== chunk.byteLength) throw new Error(`gc run ${this.path}: short read at ${position}`);
        position += bytesRead;
        yield chunk;
      }
    } finally {
      await fh.close();
    }
  }

  /** True when `key` is in the run (binary search; positioned reads for a file run). */
  async has(key: bigint): Promise<boolean> {
    if (this.data !== undefined) return searchMemory(this.data, this.stride, key);
    if (this.path === undefined) return false;
    this.#fh ??= await open(this.path, 'r');
    let lo = 0;
    let hi = this.count;
    const bytes = new Uint8Array(this.#probe.buffer);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      await this.#fh.read(bytes, 0, 8, mid * this.stride * 8);
      const at = this.#probe[0]!;
      if (at === key) return true;
      if (at < key) lo = mid + 1;
      else hi = mid;
    }
    return false;
  }

  /** Releases the run: closes its file and deletes it. */
  async drop(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close();
    if (this.path !== undefined) await unlink(this.path).catch(() => undefined);
  }
}

/** Binary search of `key` among the entries of a sorted in-memory run. */
export function searchMemory(data: BigUint64Array, stride: Stride, key: bigint): boolean {
  let lo = 0;
  let hi = data.length / stride;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const at = data[mid * stride]!;
    if (at === key) return true;
    if (at < key) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

/** Builds one run, in memory when it fits (by the caller's upper bound on its size), else in a file. */
export class RunWriter {
  readonly #store: RunStore;
  readonly #stride: Stride;
  readonly #memory: boolean;
  #buf: BigUint64Array;
  #n = 0;
  #count = 0;
  #path: string | undefined;
  #fh: FileHandle | undefined;

  constructor(store: RunStore, stride: Stride, maxEntries: number) {
    this.#store = store;
    this.#stride = stride;
    this.#memory = store.inMemory(maxEntries);
    this.#buf = new BigUint64Array((this.#memory ? maxEntries : CHUNK_ENTRIES) * stride);
  }

  /** True when the chunk buffer is full: call drain() before the next push. */
  get full(): boolean {
    return this.#n === this.#buf.length;
  }

  /** Appends one entry (`value` for stride 2); keys must come in increasing order. */
  push(key: bigint, value = 0n): void {
    this.#buf[this.#n++] = key;
    if (this.#stride === 2) this.#buf[this.#n++] = value;
    this.#count++;
  }

  /** Appends the entry at word `at` of `from`. */
  pushFrom(from: BigUint64Array, at: number): void {
    this.push(from[at]!, this.#stride === 2 ? from[at + 1]! : 0n);
  }

  /** Writes the buffered chunk to the file (a file writer only; a no-op in memory). */
  async drain(): Promise<void> {
    if (this.#memory || this.#n === 0) return;
    if (this.#fh === undefined) {
      this.#path = await this.#store.newPath();
      this.#fh = await open(this.#path, 'w');
    }
    await this.#fh.write(new Uint8Array(this.#buf.buffer, 0, this.#n * 8));
    this.#n = 0;
  }

  /** Finishes the run. */
  async finish(): Promise<Run> {
    if (this.#memory) {
      const data = this.#n === this.#buf.length ? this.#buf : this.#buf.slice(0, this.#n);
      this.#buf = EMPTY;
      return Run.memory(this.#stride, data);
    }
    await this.drain();
    const fh = this.#fh;
    this.#fh = undefined;
    if (fh === undefined) return Run.memory(this.#stride, EMPTY);
    await fh.close();
    return Run.file(this.#stride, this.#count, this.#path!);
  }

  /** Abandons the run: closes and deletes its file. */
  async discard(): Promise<void> {
    await this.#fh?.close().catch(() => undefined);
    this.#fh = undefined;
    if (this.#path !== undefined) await unlink(this.#path).catch(() => undefined);
  }
}

/** Reads a run entry by entry, a chunk at a time. */
export class Cursor {
  buf: BigUint64Array = EMPTY;
  pos = 0;
  readonly #chunks: AsyncGenerator<BigUint64Array>;

  constructor(run: Run) {
    this.#chunks = run.chunks();
  }

  /** True when an entry is at `pos`; loads the next chunk when the current one is used up. */
  async ready(): Promise<boolean> {
    while (this.pos >= this.buf.length) {
      const next = await this.#chunks.next();
      if (next.done === true) return false;
      this.buf = next.value;
      this.pos = 0;
    }
    return true;
  }

  /** Stops reading (closes a file run's handle). */
  async close(): Promise<void> {
    await this.#chunks.return(undefined);
  }
}
