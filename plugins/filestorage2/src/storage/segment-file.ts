/** An open segment file shared by the active and sealed views of it, reference counted for readers. */
import type { FileIO } from './file-io.js';

/** One open segment file; closed (and, when retired, removed) once no reader holds it. */
export class SegmentFile {
  private refs = 0;
  private retired = false;
  private closed = false;
  private onFree: (() => void) | undefined;

  constructor(
    private readonly io: FileIO,
    readonly fd: number,
    readonly path: string,
    readonly name: string,
  ) {}

  /** Marks the file in use by a reader that spans awaits. */
  acquire(): void {
    this.refs++;
  }

  /** Ends a reader's use; frees a retired file when it was the last. */
  release(): void {
    this.refs--;
    if (this.refs === 0 && this.retired) this.free();
  }

  /** Marks the file replaced; `onFree` runs (after close) once no reader holds it. */
  retire(onFree: () => void): void {
    this.retired = true;
    this.onFree = onFree;
    if (this.refs === 0) this.free();
  }

  /** Closes the descriptor now (storage close). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.io.closeQuietly(this.fd);
  }

  private free(): void {
    this.close();
    const cb = this.onFree;
    this.onFree = undefined;
    cb?.();
  }
}
