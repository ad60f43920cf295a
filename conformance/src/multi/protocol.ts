/**
 * What a multi-client child is told (one JSON argument) and what it says back (say.ts lines):
 * `READY`, `ACK <n> <tid> [<oid>]`, `VOTED <tid>`, `BLOB <oid> <size> <sha256>`, `READ <value>`,
 * `CONFLICT <code>`, `DONE <n>`, `FAIL <message>`.
 */
import type { DatabaseConfigObject } from '@handlerton/framework';

/** Each role a child can play, with its parameters (oids as decimal strings: JSON has no bigint). */
export type ClientRole =
  /** Increments its own counter and the shared one `rounds` times, one transaction each, retrying conflicts. */
  | { readonly kind: 'counter'; readonly own: string; readonly shared: string; readonly rounds: number }
  /** Writes value n+1 to every oid in one transaction, `rounds` times (0: until killed); ACK n per commit. */
  | { readonly kind: 'pair-writer'; readonly oids: readonly string[]; readonly rounds: number }
  /** Begins a transaction, reads `oid` (READ), waits for `GO` on stdin, writes value+1, commits (ACK or CONFLICT). */
  | { readonly kind: 'read-then-write'; readonly oid: string }
  /** Streams blob `oid` from a snapshot started now; BLOB with its size and sha256. */
  | { readonly kind: 'blob-read'; readonly oid: string }
  /** Creates a blob of `size` deterministic bytes (seeded) and commits; BLOB with its oid, size and sha256. */
  | { readonly kind: 'blob-write'; readonly size: number; readonly seed: number }
  /** At the storage level: begins a commit writing `value` to every oid, votes, says VOTED and hangs. */
  | { readonly kind: 'vote-and-hang'; readonly oids: readonly string[]; readonly value: number }
  /** The torture client: extends its chain (see chain.ts) until killed; ACK <seq> <tid> <record oid>. */
  | { readonly kind: 'chain'; readonly head: string; readonly shared: string; readonly client: number; readonly blobEvery: number };

/** The child's one argument. */
export interface ClientSpec {
  readonly config: DatabaseConfigObject;
  /** Modules imported before opening (to register a third-party engine). */
  readonly preload: readonly string[];
  readonly role: ClientRole;
}

/** One parsed line of a child. */
export interface ClientLine {
  /** The first word, lower-cased (`ack`, `ready`, ...), or `unknown`. */
  readonly type: string;
  /** The words after the first. */
  readonly words: readonly string[];
  readonly line: string;
}

const KNOWN = new Set(['READY', 'ACK', 'VOTED', 'BLOB', 'READ', 'CONFLICT', 'DONE', 'FAIL']);

/** Parses one line of a child's stdout. */
export function parseClientLine(line: string): ClientLine {
  const [first = '', ...words] = line.trim().split(' ');
  return { type: KNOWN.has(first) ? first.toLowerCase() : 'unknown', words, line };
}
