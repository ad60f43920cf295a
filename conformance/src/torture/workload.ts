/**
 * The torture workload, shared by the writer child and the checking parent. Every committer `c`
 * (0..31) owns SLOTS object slots and a head record; its transaction `seq` is planned by a pure
 * function of (run seed, c, seq, which slots are occupied), so the parent can replay exactly what
 * each committer did: which slots it created, overwrote, unlinked or deleted, whether it appended
 * to the shared record, and every byte it wrote (records and blobs are derived from the same key).
 */
import { InvalidArgumentError } from '@handlerton/framework';
import { fillStream, mix32, Prng, streamChunks } from '../crash/prng.js';

/** Committers a database is laid out for (heads created by the init transaction). */
export const MAX_COMMITTERS = 32;
/** Object slots per committer. */
export const SLOTS = 6;

/** What a transaction does to one slot. */
export type SlotOp =
  | { readonly op: 'create'; readonly kind: 'record' | 'blob' }
  | { readonly op: 'overwrite' }
  | { readonly op: 'unlink'; readonly delete: boolean };

/** The plan of transaction (committer, seq). */
export interface TransactionPlan {
  /** Slot index -> operation (slots not listed are untouched). */
  readonly ops: ReadonlyMap<number, SlotOp>;
  /** True when the transaction appends its entry to the shared record (read-modify-write: conflicts). */
  readonly shared: boolean;
}

/** The kind held by each slot (undefined = empty). */
export type Occupancy = ReadonlyArray<'record' | 'blob' | undefined>;

/** The plan of transaction `seq` of committer `c` given the slots it holds; deletes only when `canDelete`. */
export function planFor(runSeed: number, c: number, seq: number, occupancy: Occupancy, canDelete: boolean): TransactionPlan {
  const prng = new Prng(mix32(mix32(runSeed, c), seq));
  const ops = new Map<number, SlotOp>();
  for (let slot = 0; slot < SLOTS; slot++) {
    const roll = prng.next();
    const kindRoll = prng.next();
    const deleteRoll = prng.next();
    const held = occupancy[slot];
    if (held === undefined) {
      if (roll < 0.5) ops.set(slot, { op: 'create', kind: kindRoll < 0.7 ? 'record' : 'blob' });
    } else if (roll < 0.3) ops.set(slot, { op: 'overwrite' });
    else if (roll < 0.45) ops.set(slot, { op: 'unlink', delete: canDelete && deleteRoll < 0.5 });
  }
  return { ops, shared: prng.next() < 0.2 };
}

/** The content key of what transaction (c, seq) writes into `slot`. */
function contentKey(runSeed: number, c: number, seq: number, slot: number): number {
  return mix32(mix32(mix32(runSeed, c + 0x100), seq), slot + 0x200);
}

/** The record bytes transaction (c, seq) writes into `slot`: mostly under 2 KiB, a fifth up to 64 KiB. */
export function recordContent(runSeed: number, c: number, seq: number, slot: number): Uint8Array {
  const key = contentKey(runSeed, c, seq, slot);
  const roll = mix32(key, 1);
  const length = roll % 5 === 0 ? 1 + (mix32(key, 2) % (64 * 1024)) : 1 + (mix32(key, 2) % 2000);
  const out = new Uint8Array(length);
  fillStream(key, 0, out);
  const prefix = new TextEncoder().encode(`t${c}.${seq}.${slot}:`);
  out.set(prefix.subarray(0, Math.min(prefix.length, length)));
  return out;
}

/** The size of the blob transaction (c, seq) writes into `slot`: 70% up to 64 KiB, 25% up to 1 MiB, 5% up to `maxBlobBytes`. */
export function blobSize(runSeed: number, c: number, seq: number, slot: number, maxBlobBytes: number): number {
  const key = contentKey(runSeed, c, seq, slot);
  const roll = mix32(key, 3) % 100;
  const pick = mix32(key, 4);
  if (roll < 70) return pick % Math.min(64 * 1024, maxBlobBytes + 1);
  if (roll < 95) return pick % Math.min(1024 * 1024, maxBlobBytes + 1);
  return pick % (maxBlobBytes + 1);
}

/** Chunks (64 KiB) of the blob transaction (c, seq) writes into `slot`; bounded memory. */
export function* blobChunks(runSeed: number, c: number, seq: number, slot: number, maxBlobBytes: number): Generator<Uint8Array> {
  const size = blobSize(runSeed, c, seq, slot, maxBlobBytes);
  const key = mix32(contentKey(runSeed, c, seq, slot), 5);
  const chunkSize = 64 * 1024;
  yield* streamChunks(key, size, chunkSize);
}

/** The root record (oid 0): the shared record and the committers' heads (written once, by the init transaction). */
export interface RootState {
  readonly shared: bigint;
  readonly heads: readonly bigint[];
}

/** A committer's head: its last committed transaction and the objects in its slots. */
export interface HeadState {
  readonly c: number;
  readonly seq: number;
  /** Per slot: the object's oid and the seq that last wrote it, or null when empty. */
  readonly slots: ReadonlyArray<{ readonly oid: bigint; readonly kind: 'record' | 'blob'; readonly wseq: number } | null>;
}

/** The shared record: every transaction that appended to it, counted, with the last SHARED_TAIL entries in commit order. */
export interface SharedState {
  readonly count: number;
  /** [committer, seq] of the last appends, oldest first. */
  readonly tail: ReadonlyArray<readonly [number, number]>;
}

/** Entries the shared record keeps. */
export const SHARED_TAIL = 64;

const ROOT_MAGIC = 'handlerton-torture-root/1';
const HEAD_MAGIC = 'handlerton-torture-head/1';
const SHARED_MAGIC = 'handlerton-torture-shared/1';

/** Encodes the root record. */
export function encodeRoot(root: RootState): Uint8Array {
  return json({ magic: ROOT_MAGIC, shared: root.shared.toString(), heads: root.heads.map(String) });
}

/** Decodes the root record; InvalidArgumentError when it is not one. */
export function decodeRoot(bytes: Uint8Array): RootState {
  const v = parse(bytes, 'root');
  if (v['magic'] !== ROOT_MAGIC || !Array.isArray(v['heads'])) throw new InvalidArgumentError('the root record is not a torture root');
  return { shared: toOid(v['shared']), heads: (v['heads'] as unknown[]).map(toOid) };
}

/** Encodes a head record. */
export function encodeHead(head: HeadState): Uint8Array {
  return json({ magic: HEAD_MAGIC, c: head.c, seq: head.seq, slots: head.slots.map((s) => (s === null ? null : [s.oid.toString(), s.kind, s.wseq])) });
}

/** Decodes a head record; InvalidArgumentError when it is not one. */
export function decodeHead(bytes: Uint8Array): HeadState {
  const v = parse(bytes, 'head');
  if (v['magic'] !== HEAD_MAGIC || typeof v['c'] !== 'number' || typeof v['seq'] !== 'number' || !Array.isArray(v['slots'])) {
    throw new InvalidArgumentError('the record is not a torture head');
  }
  const slots = (v['slots'] as unknown[]).map((s) => {
    if (s === null) return null;
    if (!Array.isArray(s) || (s[1] !== 'record' && s[1] !== 'blob') || typeof s[2] !== 'number') throw new InvalidArgumentError('a head slot must be [oid, kind, wseq] or null');
    return { oid: toOid(s[0]), kind: s[1] as 'record' | 'blob', wseq: s[2] };
  });
  if (slots.length !== SLOTS) throw new InvalidArgumentError(`a head must have ${SLOTS} slots`);
  return { c: v['c'], seq: v['seq'], slots };
}

/** Encodes the shared record. */
export function encodeShared(shared: SharedState): Uint8Array {
  return json({ magic: SHARED_MAGIC, count: shared.count, tail: shared.tail });
}

/** Decodes the shared record; InvalidArgumentError when it is not one. */
export function decodeShared(bytes: Uint8Array): SharedState {
  const v = parse(bytes, 'shared');
  if (v['magic'] !== SHARED_MAGIC || typeof v['count'] !== 'number' || !Array.isArray(v['tail'])) throw new InvalidArgumentError('the record is not the torture shared record');
  return { count: v['count'], tail: (v['tail'] as Array<[number, number]>).map(([c, s]) => [c, s] as const) };
}

/** The shared record after appending (c, seq). */
export function appendShared(shared: SharedState, c: number, seq: number): SharedState {
  return { count: shared.count + 1, tail: [...shared.tail, [c, seq] as const].slice(-SHARED_TAIL) };
}

/** An empty head of committer `c`. */
export function emptyHead(c: number): HeadState {
  return { c, seq: 0, slots: new Array(SLOTS).fill(null) };
}

function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function parse(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new InvalidArgumentError(`the ${what} record is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError(`the ${what} record is not an object`);
  return value as Record<string, unknown>;
}

function toOid(value: unknown): bigint {
  if (typeof value !== 'string' || !/^[0-9]+$/.test(value)) throw new InvalidArgumentError('an oid must be a decimal string');
  return BigInt(value);
}
