/** The random-access byte sources a blob handle reads and writes through. */
import type { BlobDraft, RevisionReader } from '../contracts/blob-handlerton.js';

/** Bytes a handle can read. */
export interface ByteSource {
  size(): number;
  read(target: Uint8Array, position: number): Promise<number>;
  /** Releases what the source holds (a revision reader). */
  release(): Promise<void>;
}

/** Bytes a handle can also change. */
export interface ByteSink extends ByteSource {
  write(source: Uint8Array, position: number): Promise<void>;
  truncate(size: number): Promise<void>;
}

/** A source over a committed revision; releasing closes the reader. */
export function revisionSource(reader: RevisionReader): ByteSource {
  return {
    size: () => reader.size,
    read: (target, position) => reader.read(target, position),
    release: () => reader.close(),
  };
}

/** A source over nothing: a blob without committed data. */
export const EMPTY_SOURCE: ByteSource = Object.freeze({
  size: () => 0,
  read: async () => 0,
  release: async () => {},
});

/** A sink over the blob's current draft (which may be replaced after a flush commits it). */
export function draftSink(current: () => BlobDraft): ByteSink {
  return {
    size: () => current().size(),
    read: (target, position) => current().read(target, position),
    write: (source, position) => current().write(source, position),
    truncate: (size) => current().truncate(size),
    release: async () => {},
  };
}
