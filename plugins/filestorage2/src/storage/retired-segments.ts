/**
 * What happens to a segment file a pack replaced: deleted, or moved into `archive/` of the storage
 * directory (option `archivePacked`; the seed: "old past segments are suitable for archival"). An
 * archived file is a complete sealed segment (FORMAT.md); the storage never reads it again.
 */
import { basename, join } from 'node:path';
import type { FileIO } from './file-io.js';

/** The directory, inside the storage directory, that receives archived segments. */
export const ARCHIVE_DIR = 'archive';

/** Deletes or archives the replaced segment `path` of storage directory `dir`. */
export function disposeReplaced(io: FileIO, dir: string, path: string, archive: boolean): void {
  if (!archive) {
    io.unlink(path);
    return;
  }
  const target = join(dir, ARCHIVE_DIR);
  io.mkdir(target);
  io.rename(path, join(target, basename(path)));
}

/** Makes a disposal durable: the storage directory, and the archive when it received the file. */
export async function syncDisposal(io: FileIO, dir: string, archive: boolean): Promise<void> {
  if (archive) await io.fsyncDir(join(dir, ARCHIVE_DIR));
  await io.fsyncDir(dir);
}
