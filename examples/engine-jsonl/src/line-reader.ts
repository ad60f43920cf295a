/**
 * Reads a file line by line in bounded chunks (never whole), with each line's byte offset, and
 * whether the file ended without a newline (a torn last line).
 */
import type { FileSystem } from '@handlerton/framework';

/** One line of the file, without its newline. */
export interface Line {
  readonly offset: number;
  readonly bytes: Buffer;
  /** False for a last line that has no newline. */
  readonly complete: boolean;
}

const CHUNK = 1024 * 1024;

/** The lines of `path`, in order. */
export async function* readLines(fs: FileSystem, path: string): AsyncGenerator<Line> {
  const handle = await fs.promises.open(path, 'r');
  try {
    let pending = Buffer.alloc(0);
    let pendingOffset = 0;
    let position = 0;
    const chunk = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, CHUNK, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      let data = Buffer.concat([pending, chunk.subarray(0, bytesRead)]);
      let start = 0;
      for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
        yield { offset: pendingOffset + start, bytes: Buffer.from(data.subarray(start, nl)), complete: true };
        start = nl + 1;
      }
      pendingOffset += start;
      data = data.subarray(start);
      pending = Buffer.from(data);
    }
    if (pending.length > 0) yield { offset: pendingOffset, bytes: pending, complete: false };
  } finally {
    await handle.close();
  }
}
