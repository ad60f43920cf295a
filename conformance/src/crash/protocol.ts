/**
 * The line protocol between the kill-loop parent and its writer child. The child prints, one
 * line each on stdout: `OPENING` before openDatabase, `READY <seq>` once open (seq = the last
 * committed transaction it found), `ACK <seq> <tid>` after each db.transaction returned, and
 * `FAIL <message>` before exiting on an error.
 */
import type { DatabaseConfigObject } from '@handlerton/framework';

/** What the parent passes to the writer (JSON in argv[2]). */
export interface WriterSpec {
  /** The database config (JSON-serialisable: engines named by string). */
  readonly config: string | DatabaseConfigObject;
  /** Write a blob in every transaction. */
  readonly blobs: boolean;
  /** Run db.pack() after every `packEvery`-th transaction (0: never). */
  readonly packEvery: number;
  /** Modules the child imports before opening (e.g. to register a third-party engine plugin). */
  readonly preload: readonly string[];
}

/** One parsed line from the writer. */
export type WriterEvent =
  | { readonly type: 'opening' }
  | { readonly type: 'ready'; readonly seq: number }
  | { readonly type: 'ack'; readonly seq: number; readonly tid: bigint }
  | { readonly type: 'pack'; readonly seq: number; readonly done: boolean }
  | { readonly type: 'fail'; readonly message: string }
  | { readonly type: 'unknown'; readonly line: string };

/** Parses one complete line of the writer's stdout. */
export function parseWriterLine(line: string): WriterEvent {
  const parts = line.split(' ');
  if (parts[0] === 'OPENING' && parts.length === 1) return { type: 'opening' };
  if (parts[0] === 'READY' && parts.length === 2 && /^[0-9]+$/.test(parts[1] ?? '')) return { type: 'ready', seq: Number(parts[1]) };
  if (parts[0] === 'ACK' && parts.length === 3 && /^[0-9]+$/.test(parts[1] ?? '') && /^[0-9]+$/.test(parts[2] ?? '')) {
    return { type: 'ack', seq: Number(parts[1]), tid: BigInt(parts[2] ?? '0') };
  }
  if ((parts[0] === 'PACK' || parts[0] === 'PACKED') && parts.length === 2 && /^[0-9]+$/.test(parts[1] ?? '')) {
    return { type: 'pack', seq: Number(parts[1]), done: parts[0] === 'PACKED' };
  }
  if (parts[0] === 'FAIL') return { type: 'fail', message: line.slice(5) };
  return { type: 'unknown', line };
}
