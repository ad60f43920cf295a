/**
 * The corruption sweep's reference database: a small deterministic workload (records of varied
 * sizes, overwrites, a delete, blobs of a few chunks, an append to a blob, a pack, commits after the
 * pack) and the model of what every committed state must read as.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { openDatabase, ROOT_OID, silentLogger, type Clock, type Database, type Oid, type Tid, type Transaction } from '@handlerton/framework';
import type { HarnessTarget } from '../harnesses/target.js';
import { Prng } from '../crash/prng.js';

/** What one object reads as in one committed state (`absent` when it has no current revision). */
export type ObjectView = string;

/** One committed state: its tid and what every object of the workload reads as in it. */
export interface ExpectedState {
  readonly tid: Tid;
  /** Indexed like `ExpectedDatabase.oids`. */
  readonly objects: readonly ObjectView[];
}

/** The model of the reference database. */
export interface ExpectedDatabase {
  /** Every oid the workload ever wrote, root first. */
  readonly oids: readonly Oid[];
  /** The oids that are blobs. */
  readonly blobOids: ReadonlySet<Oid>;
  /** Every committed state, oldest first. */
  readonly states: readonly ExpectedState[];
  /** Index of the first state whose snapshot the engine still serves (the pack point). */
  readonly historyFrom: number;
}

/** Blob chunk size the sweep asks engines for, so blobs span a few chunks while staying small. */
export const SWEEP_CHUNK_SIZE = 16 * 1024;

/** The `ObjectView` of a record: its serial, the SHA-256 of its bytes and its refs. */
export function recordView(tid: Tid, data: Uint8Array, refs: readonly Oid[]): ObjectView {
  return `record tid=${tid} sha=${sha(data)} len=${data.length} refs=${refs.join(',')}`;
}

/** The `ObjectView` of a blob object: its serial, streamed size and SHA-256. */
export function blobView(tid: Tid, size: number, digest: string): ObjectView {
  return `blob tid=${tid} size=${size} sha=${digest}`;
}

/** SHA-256 hex of `data`. */
export function sha(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Engine options the sweep uses by default for a built-in engine (small segments and chunks). */
export function sweepOptions(engine: string, role: 'storage' | 'blobs'): Readonly<Record<string, unknown>> {
  if (engine === 'filestorage2' && role === 'storage') return { segmentSize: 4096 };
  if (engine === 'sqlite') return { chunkSize: SWEEP_CHUNK_SIZE };
  return {};
}

/**
 * FileStorage2's blob chunk size is fixed when its directory is created and has no option: the
 * sweep writes the format marker first so that blobs span several 16 KiB chunks.
 */
async function presetBlobFormat(target: HarnessTarget, dir: string): Promise<void> {
  if (target.blobEngine !== 'filestorage2') return;
  const blobDir = target.label === target.storageEngine ? join(dir, 'data', 'blobs') : join(dir, 'blobs', 'blobs');
  await mkdir(blobDir, { recursive: true });
  await writeFile(join(blobDir, 'BLOBS-FORMAT'), `${JSON.stringify({ magic: 'handlerton-filestorage2-blobs', version: 2, chunkSize: SWEEP_CHUNK_SIZE })}\n`);
}

/** Deterministic bytes for (seed, label) of `size` bytes. */
function content(label: string, size: number): Uint8Array {
  const prng = new Prng(Number.parseInt(sha(new TextEncoder().encode(label)).slice(0, 8), 16));
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(prng.next() * 256);
  return out;
}

/** The live model while the workload runs. */
class ModelBuilder {
  readonly oids: Oid[] = [ROOT_OID];
  readonly blobOids = new Set<Oid>();
  readonly states: ExpectedState[] = [];
  readonly #current = new Map<Oid, { data: Uint8Array; refs: readonly Oid[] } | { blob: Uint8Array[] } | null>();
  readonly #pending = new Map<Oid, { data: Uint8Array; refs: readonly Oid[] } | { blob: Uint8Array[] } | null>();
  readonly #serials = new Map<Oid, Tid>();

  record(oid: Oid, data: Uint8Array, refs: readonly Oid[] = []): void {
    if (!this.oids.includes(oid)) this.oids.push(oid);
    this.#pending.set(oid, { data, refs });
  }

  remove(oid: Oid): void {
    this.#pending.set(oid, null);
  }

  blob(oid: Oid, parts: Uint8Array[]): void {
    if (!this.oids.includes(oid)) this.oids.push(oid);
    this.blobOids.add(oid);
    this.#pending.set(oid, { blob: parts });
  }

  blobParts(oid: Oid): Uint8Array[] {
    const value = this.#current.get(oid);
    if (value === undefined || value === null || !('blob' in value)) throw new Error(`oid ${oid} is not a blob of the model`);
    return value.blob;
  }

  commit(tid: Tid): void {
    for (const [oid, value] of this.#pending) {
      this.#current.set(oid, value);
      this.#serials.set(oid, tid);
    }
    this.#pending.clear();
    this.states.push({ tid, objects: this.oids.map((oid) => this.#view(oid)) });
  }

  #view(oid: Oid): ObjectView {
    const value = this.#current.get(oid);
    const tid = this.#serials.get(oid);
    if (value === undefined || value === null || tid === undefined) return 'absent';
    if ('data' in value) return recordView(tid, value.data, value.refs);
    const hash = createHash('sha256');
    let size = 0;
    for (const part of value.blob) {
      hash.update(part);
      size += part.length;
    }
    return blobView(tid, size, hash.digest('hex'));
  }
}

async function writeBlob(tx: Transaction, oid: Oid | undefined, mode: 'w' | 'a', data: Uint8Array): Promise<Oid> {
  const blob = oid === undefined ? await tx.createBlob() : await tx.blob(oid);
  const handle = await blob.open(mode);
  try {
    await handle.write(data);
    await handle.flush();
  } finally {
    await handle.close();
  }
  return blob.oid;
}

/** One step of the workload: what it writes, given the oids made so far. */
type Step = (tx: Transaction, model: ModelBuilder, names: Map<string, Oid>) => Promise<void>;

async function put(tx: Transaction, model: ModelBuilder, names: Map<string, Oid>, name: string, version: number): Promise<void> {
  const size = 16 + (Number.parseInt(sha(new TextEncoder().encode(name)).slice(0, 4), 16) % 880) + version * 13;
  const data = content(`${name}/${version}`, size);
  const known = names.get(name);
  if (known === undefined) {
    const oid = await tx.create(data);
    names.set(name, oid);
    model.record(oid, data);
  } else {
    await tx.write(known, data);
    model.record(known, data);
  }
}

async function putBlob(tx: Transaction, model: ModelBuilder, names: Map<string, Oid>, name: string, version: number, size: number, mode: 'w' | 'a' = 'w'): Promise<void> {
  const data = content(`${name}/blob/${version}`, size);
  const known = names.get(name);
  const oid = await writeBlob(tx, known, mode, data);
  names.set(name, oid);
  model.blob(oid, mode === 'a' ? [...model.blobParts(oid), data] : [data]);
}

async function putRoot(tx: Transaction, model: ModelBuilder, names: Map<string, Oid>, version: number): Promise<void> {
  const refs = [...names.entries()].filter(([name]) => name !== 'deleted').map(([, oid]) => oid);
  const data = content(`root/${version}`, 40);
  await tx.write(ROOT_OID, data, { refs });
  model.record(ROOT_OID, data, refs);
}

const BEFORE_PACK: readonly Step[] = [
  async (tx, m, n) => {
    for (const name of ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']) await put(tx, m, n, name, 0);
    await putBlob(tx, m, n, 'b1', 0, 40_000);
    await putRoot(tx, m, n, 1);
  },
  async (tx, m, n) => {
    await put(tx, m, n, 'r1', 1);
    await put(tx, m, n, 'r2', 1);
    await put(tx, m, n, 'r7', 0);
    await putBlob(tx, m, n, 'b2', 0, 70_000);
    await putRoot(tx, m, n, 2);
  },
  async (tx, m, n) => {
    await put(tx, m, n, 'r3', 1);
    const r4 = n.get('r4');
    if (r4 === undefined) throw new Error('r4 missing');
    await tx.delete(r4);
    m.remove(r4);
    n.delete('r4');
    await putBlob(tx, m, n, 'b1', 1, 45_000);
    await putRoot(tx, m, n, 3);
  },
  async (tx, m, n) => {
    for (const name of ['r8', 'r9', 'r10']) await put(tx, m, n, name, 0);
    await put(tx, m, n, 'r1', 2);
    await putRoot(tx, m, n, 4);
  },
];

const AFTER_PACK: readonly Step[] = [
  async (tx, m, n) => {
    await put(tx, m, n, 'r2', 2);
    await put(tx, m, n, 'r5', 1);
    await putBlob(tx, m, n, 'b3', 0, 9_000);
    await putBlob(tx, m, n, 'b2', 1, 5_000, 'a');
    await putRoot(tx, m, n, 5);
  },
  async (tx, m, n) => {
    await put(tx, m, n, 'r6', 1);
    await put(tx, m, n, 'r7', 1);
    await put(tx, m, n, 'r11', 0);
  },
  async (tx, m, n) => {
    await put(tx, m, n, 'r1', 3);
    await put(tx, m, n, 'r8', 1);
    await putRoot(tx, m, n, 7);
  },
  async (tx, m, n) => {
    await put(tx, m, n, 'r12', 0);
    await put(tx, m, n, 'r3', 2);
    await putRoot(tx, m, n, 8);
  },
];

async function run(db: Database, model: ModelBuilder, names: Map<string, Oid>, steps: readonly Step[]): Promise<void> {
  for (const step of steps) {
    await db.transaction((tx) => step(tx, model, names));
    model.commit(db.lastTransaction());
  }
}

/** The reference build's clock: a fixed start moving 1 ms per reading, so that tids (and file layouts) repeat between runs. */
function steppingClock(): Clock {
  let now = Date.UTC(2026, 0, 1);
  return { now: () => now++ };
}

/**
 * Builds the reference database of `target` under `dir`, closes it, and returns its model;
 * `beforeClose` runs after the last commit while the database is still open.
 */
export async function buildReferenceDatabase(target: HarnessTarget, dir: string, beforeClose?: () => Promise<void>): Promise<ExpectedDatabase> {
  await presetBlobFormat(target, dir);
  const model = new ModelBuilder();
  const names = new Map<string, Oid>();
  const db = await openDatabase(target.config(dir), { clock: steppingClock(), logger: silentLogger });
  try {
    await run(db, model, names, BEFORE_PACK);
    await db.pack(db.lastTransaction());
    const historyFrom = model.states.length - 1;
    await run(db, model, names, AFTER_PACK);
    await beforeClose?.();
    const states = model.states.map((state) => ({ tid: state.tid, objects: model.oids.map((_, i) => state.objects[i] ?? 'absent') }));
    return { oids: [...model.oids], blobOids: new Set(model.blobOids), states, historyFrom };
  } finally {
    await db.close();
  }
}
