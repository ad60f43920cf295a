/**
 * Prepares the next active segment ahead of time: a `.tmp` file with its header, zero-filled to the
 * segment size in small steps paced by the commits, then fsynced. Commits that later write into
 * blocks that are already allocated and written make their fdatasync cheaper (no allocation to
 * journal). The file is never live until `take` renames it; a crash leaves a `.tmp` file that open
 * removes.
 */
import { join } from 'node:path';
import { SEGMENT_HEADER_SIZE } from './constants.js';
import type { FileIO } from './file-io.js';
import { segmentFileName } from './naming.js';
import { encodeSegmentHeader, type SegmentHeader } from './segment-format.js';

/** Zero bytes written per step. */
const STEP = 512 * 1024;
const ZEROS = Buffer.alloc(STEP);
/** Zero bytes written between two flushes of the file being prepared. */
const FLUSH_EVERY = 1024 * 1024;

/** A prepared (complete) next segment file. */
export interface PreparedSegment {
  readonly fd: number;
  readonly tmp: string;
  readonly header: SegmentHeader;
  readonly size: number;
}

/** Zero-fills the file of one future segment in the background. */
export class SegmentPreparer {
  readonly tmp: string;
  private fd = -1;
  private filled = 0;
  private credit = 0;
  private complete = false;
  private stopped = false;
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  /** `size`: bytes to zero-fill (the segment size, 4 KiB aligned). */
  constructor(
    private readonly io: FileIO,
    dir: string,
    readonly header: SegmentHeader,
    private readonly size: number,
    private readonly onError: (e: unknown) => void,
  ) {
    this.tmp = `${join(dir, segmentFileName(header.seq, 0))}.tmp`;
  }

  /** Starts the background fill. */
  start(): void {
    this.running = this.run().catch((e: unknown) => {
      this.stopped = true;
      this.discard();
      this.onError(e);
    });
  }

  /** Lets the fill write about `bytes` more (called as commits write: the fill keeps pace with them). */
  pace(bytes: number): void {
    this.credit += bytes;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** True once the file is complete and can be taken. */
  get ready(): boolean {
    return this.complete && !this.stopped;
  }

  /** The complete file, handed over (the caller owns the descriptor), or null when not ready. */
  take(): PreparedSegment | null {
    if (!this.complete || this.stopped) return null;
    this.stopped = true;
    return { fd: this.fd, tmp: this.tmp, header: this.header, size: this.size };
  }

  /** Stops the fill, waits for a write under way, and removes the file unless it was taken (`remove`). */
  async cancel(remove: boolean): Promise<void> {
    const taken = this.stopped && this.complete;
    this.stopped = true;
    this.pace(0);
    await this.running;
    if (!taken) {
      if (remove) this.discard();
      else if (this.fd >= 0) this.io.closeQuietly(this.fd);
      this.fd = -1;
    }
  }

  private async run(): Promise<void> {
    this.fd = this.io.open(this.tmp, 'w+');
    this.io.writeAt(this.fd, encodeSegmentHeader(this.header), 0, this.tmp);
    this.filled = SEGMENT_HEADER_SIZE;
    while (this.filled < this.size) {
      while (this.credit <= 0 && !this.stopped) await new Promise<void>((resolve) => (this.wake = resolve));
      if (this.stopped) return;
      const n = Math.min(STEP - (this.filled % STEP), this.size - this.filled);
      await writeAsync(this.io, this.fd, ZEROS, n, this.filled, this.tmp);
      this.filled += n;
      this.credit -= n;
      // small flushes: a single large one at the end would hold up the commits' fdatasyncs for tens of ms
      if (this.filled % FLUSH_EVERY === 0) await this.io.fdatasync(this.fd, this.tmp);
    }
    if (this.stopped) return;
    await this.io.fsync(this.fd, this.tmp);
    if (!this.stopped) this.complete = true;
  }

  private discard(): void {
    if (this.fd >= 0) this.io.closeQuietly(this.fd);
    this.fd = -1;
    try {
      this.io.unlink(this.tmp);
    } catch {
      // a leftover .tmp file is removed at the next open
    }
  }
}

function writeAsync(io: FileIO, fd: number, b: Buffer, length: number, position: number, path: string): Promise<void> {
  return io.writevAtAsync(fd, [b.subarray(0, length)], position, path);
}
