/**
 * The line protocol between the torture parent and its writer child. The child prints, one line
 * each on stdout: `OPENING` before openDatabase; `INIT <tid>` after committing the layout (root,
 * shared record, heads) into an empty database; `READY <deletes 0|1> <seq0,...,seq31>` once open
 * (each committer's last committed transaction); `ACK <c> <seq> <tid> <attempts> <slot:oid,...|->`
 * after committer c's db.transaction returned (the created oids per slot); `MAINT <op>` and
 * `MAINTED <op> [<ops> <lastRename>]` around a pack or a garbage collection (a watched pack adds
 * how many file operations it counted and which of them was its last rename, 0 for none); `PACKKILL <op> <call> <file>` right before the writer kills itself inside a
 * watched pack (before its op-th counted file operation); `FAIL <message>` before exiting on an error.
 */
import type { DatabaseConfigObject } from '@handlerton/framework';

/** A maintenance operation the writer runs while its committers commit. */
export type MaintenanceOp = 'pack' | 'gc';

/** What the parent passes to the writer (JSON in argv[2]). */
export interface TortureSpec {
  /** The database config (JSON-serialisable: engines named by string). */
  readonly config: string | DatabaseConfigObject;
  /** The run seed: with (committer, seq) it determines every transaction. */
  readonly seed: number;
  /** Concurrent committers this writer runs (1..32): committers 0..n-1. */
  readonly committers: number;
  /** Largest blob a transaction writes. */
  readonly maxBlobBytes: number;
  /** Maintenance to run, in order, each `delayMs` after the previous one ended (the first after READY). */
  readonly maintenance: ReadonlyArray<{ readonly op: MaintenanceOp; readonly delayMs: number }>;
  /** Modules the child imports before opening (e.g. to register a third-party engine plugin). */
  readonly preload: readonly string[];
  /**
   * When set, the writer opens the database through a PackWatch (pack-watch.ts), reports how many
   * file operations each pack made, and with `killAt` kills itself right before that operation of a pack.
   */
  readonly packWatch?: { readonly killAt?: number };
}

/** What a watched pack reported: its counted file operations and the number of its last rename (0: none). */
export interface PackOps {
  readonly ops: number;
  readonly lastRename: number;
}

/** One parsed line from the writer. */
export type TortureEvent =
  | { readonly type: 'opening' }
  | { readonly type: 'init'; readonly tid: bigint }
  | { readonly type: 'ready'; readonly deletes: boolean; readonly seqs: readonly number[] }
  | { readonly type: 'ack'; readonly c: number; readonly seq: number; readonly tid: bigint; readonly attempts: number; readonly created: ReadonlyMap<number, bigint> }
  | { readonly type: 'maint'; readonly op: MaintenanceOp }
  | { readonly type: 'mainted'; readonly op: MaintenanceOp; readonly ops: PackOps | undefined }
  | { readonly type: 'packkill'; readonly op: number; readonly call: string; readonly file: string }
  | { readonly type: 'fail'; readonly message: string }
  | { readonly type: 'unknown'; readonly line: string };

const NUMBER = /^[0-9]+$/;

/** Formats an ACK line. */
export function ackLine(c: number, seq: number, tid: bigint, attempts: number, created: ReadonlyMap<number, bigint>): string {
  const oids = [...created].map(([slot, oid]) => `${slot}:${oid}`).join(',');
  return `ACK ${c} ${seq} ${tid} ${attempts} ${oids === '' ? '-' : oids}`;
}

/** Parses one complete line of the writer's stdout. */
export function parseTortureLine(line: string): TortureEvent {
  const parts = line.split(' ');
  const [head] = parts;
  if (head === 'OPENING' && parts.length === 1) return { type: 'opening' };
  if (head === 'INIT' && parts.length === 2 && NUMBER.test(parts[1] ?? '')) return { type: 'init', tid: BigInt(parts[1] ?? '0') };
  if (head === 'READY' && parts.length === 3 && (parts[1] === '0' || parts[1] === '1') && /^[0-9]+(,[0-9]+)*$/.test(parts[2] ?? '')) {
    return { type: 'ready', deletes: parts[1] === '1', seqs: (parts[2] ?? '').split(',').map(Number) };
  }
  if (head === 'ACK' && parts.length === 6 && parts.slice(1, 5).every((p) => NUMBER.test(p))) {
    const created = new Map<number, bigint>();
    if (parts[5] !== '-') {
      for (const pair of (parts[5] ?? '').split(',')) {
        const match = /^([0-9]+):([0-9]+)$/.exec(pair);
        if (match === null) return { type: 'unknown', line };
        created.set(Number(match[1]), BigInt(match[2] ?? '0'));
      }
    }
    return { type: 'ack', c: Number(parts[1]), seq: Number(parts[2]), tid: BigInt(parts[3] ?? '0'), attempts: Number(parts[4]), created };
  }
  if (head === 'MAINT' && parts.length === 2 && (parts[1] === 'pack' || parts[1] === 'gc')) return { type: 'maint', op: parts[1] };
  if (head === 'MAINTED' && (parts.length === 2 || (parts.length === 4 && parts.slice(2).every((p) => NUMBER.test(p)))) && (parts[1] === 'pack' || parts[1] === 'gc')) {
    return { type: 'mainted', op: parts[1], ops: parts.length === 2 ? undefined : { ops: Number(parts[2]), lastRename: Number(parts[3]) } };
  }
  if (head === 'PACKKILL' && parts.length === 4 && NUMBER.test(parts[1] ?? '')) return { type: 'packkill', op: Number(parts[1]), call: parts[2] ?? '', file: parts[3] ?? '' };
  if (head === 'FAIL') return { type: 'fail', message: line.slice(5) };
  return { type: 'unknown', line };
}
