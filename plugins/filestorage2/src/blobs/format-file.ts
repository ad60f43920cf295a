/** The format marker of a blob directory: magic, layout version and chunk size, written once. */
import { dirname } from 'node:path';
import { CorruptionError } from '@handlerton/framework';
import { FsOps, hasCode } from './fs-ops.js';
import { FORMAT_MAGIC, FORMAT_VERSION } from './layout.js';

interface FormatMarker {
  magic: string;
  version: number;
  chunkSize: number;
}

/**
 * Reads the marker at `path`, or writes one with `chunkSize` when the directory is new; returns the chunk
 * size. A version-1 store whose `revisionsDir` holds no revision has nothing to checksum and is upgraded
 * in place; one that holds revisions is refused.
 */
export async function loadOrCreateFormat(
  ops: FsOps,
  path: string,
  chunkSize: number,
  isNew: boolean,
  sync: boolean,
  revisionsDir: string,
): Promise<number> {
  let text: string;
  try {
    text = (await ops.readSmallFile(path)).toString('utf8');
  } catch (error) {
    if (!hasCode(error, 'ENOENT')) throw error;
    if (!isNew) throw new CorruptionError('blob directory has a journal but no format marker', path);
    await writeFormat(ops, path, { magic: FORMAT_MAGIC, version: FORMAT_VERSION, chunkSize }, sync);
    return chunkSize;
  }
  let marker: Partial<FormatMarker>;
  try {
    marker = JSON.parse(text) as Partial<FormatMarker>;
  } catch (error) {
    throw new CorruptionError('blob format marker is not JSON', path, 0, { cause: error });
  }
  if (marker.magic !== FORMAT_MAGIC) throw new CorruptionError('not a filestorage2 blob directory', path, 0);
  if (marker.version === 1 && (await isEmptyDirectory(ops, revisionsDir))) {
    const stored = validChunkSize(marker.chunkSize, path);
    await writeFormat(ops, path, { magic: FORMAT_MAGIC, version: FORMAT_VERSION, chunkSize: stored }, sync);
    return stored;
  }
  if (marker.version === 1) {
    throw new CorruptionError(
      `blob layout version 1 has no chunk checksums and is not readable by this version (layout ${FORMAT_VERSION}): ` +
        'copy the blobs out with the release that wrote them (e.g. `handlerton copy`) into a new directory',
      path,
      0,
    );
  }
  if (marker.version !== FORMAT_VERSION) {
    throw new CorruptionError(`unsupported blob layout version ${String(marker.version)}`, path, 0);
  }
  return validChunkSize(marker.chunkSize, path);
}

/** The marker's chunk size; CorruptionError when it is not a positive integer. */
function validChunkSize(stored: unknown, path: string): number {
  if (typeof stored !== 'number' || !Number.isSafeInteger(stored) || stored <= 0) {
    throw new CorruptionError('blob format marker has a bad chunk size', path, 0);
  }
  return stored;
}

/** True when `dir` is missing or has no entries. */
async function isEmptyDirectory(ops: FsOps, dir: string): Promise<boolean> {
  try {
    return (await ops.readdir(dir)).length === 0;
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return true;
    throw error;
  }
}

async function writeFormat(ops: FsOps, path: string, marker: FormatMarker, sync: boolean): Promise<void> {
  const tmp = `${path}.tmp`;
  const bytes = Buffer.from(`${JSON.stringify(marker)}\n`);
  const fd = await ops.open(tmp, 'w');
  try {
    await ops.writeFully(fd, bytes, 0, bytes.length, 0);
    // Always, whatever the sync mode: without it a power cut can keep the rename and lose the
    // bytes, leaving an empty marker that makes the whole database unopenable.
    await ops.fdatasync(fd);
  } finally {
    await ops.close(fd);
  }
  await ops.rename(tmp, path);
  if (sync) await ops.fsyncDir(dirname(path));
}
