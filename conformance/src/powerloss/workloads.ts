/**
 * The small in-process workloads run under the recording layer. Every transaction is remembered
 * (its tid, a marker record only it writes, and every object it wrote with the expected bytes or
 * blob digest) and its acknowledgement is logged as an `ack` marker the moment `commit()` returns.
 */
import { createHash } from 'node:crypto';
import type { Database, Oid, Tid } from '@handlerton/framework';
import { fillStream, mix32 } from '../crash/prng.js';

/** Marker label logged when a transaction is acknowledged (value: the transaction's index). */
export const ACK = 'ack';

/** What a transaction wrote to one object. */
export type ExpectedObject =
  | { readonly kind: 'record'; readonly data: Uint8Array }
  | { readonly kind: 'blob'; readonly size: number; readonly sha256: string };

/** One committed transaction of a workload. */
export interface TxnRecord {
  /** Position in the workload (the `ack` marker's value). */
  readonly index: number;
  readonly tid: Tid;
  /** A record only this transaction writes: present with this tid exactly when the transaction is. */
  readonly marker: Oid;
  readonly writes: ReadonlyMap<Oid, ExpectedObject>;
}

/** What a transaction of a workload writes. */
export interface TxnSpec {
  /** New records (at least one: the first is the marker). */
  readonly records: number;
  /** Bytes per new record (default 64..1063, derived). */
  readonly recordSize?: number;
  /** Existing records to overwrite (never another transaction's marker). */
  readonly overwrite?: readonly Oid[];
  /** Size of a new blob to create, if any. */
  readonly newBlob?: number;
  /** An existing blob to rewrite, with its new size. */
  readonly rewriteBlob?: { readonly oid: Oid; readonly size: number };
}

/** Runs transactions against one database and logs their acknowledgements. */
export class WorkloadDriver {
  readonly txns: TxnRecord[];
  #next: number;

  /** `mark` logs a marker in the recording; `previous` are transactions already in the database. */
  constructor(
    readonly db: Database,
    readonly mark: (label: string, value: number) => void,
    previous: readonly TxnRecord[] = [],
  ) {
    this.txns = [...previous];
    this.#next = previous.reduce((max, t) => Math.max(max, t.index + 1), 0);
  }

  /** Commits one transaction of `spec`; logs `ack` once commit() returned. Resolves to its record. */
  async commit(spec: TxnSpec): Promise<TxnRecord> {
    const index = this.#next++;
    const tx = this.db.begin();
    const writes = new Map<Oid, ExpectedObject>();
    let marker: Oid | undefined;
    try {
      for (let i = 0; i < spec.records; i++) {
        const data = recordBytes(index, i, spec.recordSize);
        const oid = await tx.create(data);
        marker ??= oid;
        writes.set(oid, { kind: 'record', data });
      }
      for (const [i, oid] of (spec.overwrite ?? []).entries()) {
        const data = recordBytes(index, 1000 + i, spec.recordSize);
        await tx.write(oid, data);
        writes.set(oid, { kind: 'record', data });
      }
      if (spec.newBlob !== undefined) {
        const blob = await tx.createBlob();
        writes.set(blob.oid, await writeBlob(await blob.open('w'), index, 0, spec.newBlob));
      }
      if (spec.rewriteBlob !== undefined) {
        const blob = await tx.blob(spec.rewriteBlob.oid);
        writes.set(blob.oid, await writeBlob(await blob.open('w'), index, 1, spec.rewriteBlob.size));
      }
    } catch (error) {
      await tx.abort().catch(() => undefined);
      throw error;
    }
    if (marker === undefined) throw new Error('a workload transaction needs at least one new record');
    const tid = await tx.commit();
    this.mark(ACK, index);
    const record: TxnRecord = { index, tid, marker, writes };
    this.txns.push(record);
    return record;
  }

  /** Oids of records written by earlier transactions that are not markers (safe to overwrite). */
  overwritable(): Oid[] {
    const markers = new Set(this.txns.map((t) => t.marker));
    const oids = new Set<Oid>();
    for (const t of this.txns) for (const [oid, o] of t.writes) if (o.kind === 'record' && !markers.has(oid)) oids.add(oid);
    return [...oids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Oids of the blobs written so far. */
  blobs(): Oid[] {
    const oids = new Set<Oid>();
    for (const t of this.txns) for (const [oid, o] of t.writes) if (o.kind === 'blob') oids.add(oid);
    return [...oids];
  }
}

/** The bytes of record `i` of transaction `index`: readable prefix then a derived stream. */
export function recordBytes(index: number, i: number, size?: number): Uint8Array {
  const length = size ?? 64 + (mix32(index, i) % 1000);
  const out = new Uint8Array(length);
  fillStream(mix32(index, i + 0x5000), 0, out);
  out.set(new TextEncoder().encode(`t${index}.${i}:`).subarray(0, length));
  return out;
}

/** Chunks of blob (index, which) of `size` bytes, 16 KiB each. */
function* blobChunks(index: number, which: number, size: number): Generator<Uint8Array> {
  const key = mix32(index, which + 0x7000);
  for (let at = 0; at < size; at += 16384) {
    const chunk = new Uint8Array(Math.min(16384, size - at));
    fillStream(key, at, chunk);
    yield chunk;
  }
}

async function writeBlob(handle: { write(d: Uint8Array): Promise<number>; close(): Promise<void> }, index: number, which: number, size: number): Promise<ExpectedObject> {
  const hash = createHash('sha256');
  try {
    for (const chunk of blobChunks(index, which, size)) {
      hash.update(chunk);
      await handle.write(chunk);
    }
  } finally {
    await handle.close();
  }
  return { kind: 'blob', size, sha256: hash.digest('hex') };
}

/** A workload: what it does with an open database (the harness opens and closes it). */
export interface Workload {
  readonly name: string;
  /** Options merged into the engine options for this workload (e.g. a small segment size). */
  readonly options?: Readonly<Record<string, unknown>>;
  run(driver: WorkloadDriver): Promise<void>;
}

/** The built-in workloads; `sealOptions` are the engine options that make a segment seal after a few KiB. */
export function builtInWorkloads(sealOptions: Readonly<Record<string, unknown>>): Workload[] {
  return [
    {
      name: 'commits',
      async run(d) {
        await d.commit({ records: 3 });
        await d.commit({ records: 2, overwrite: d.overwritable().slice(0, 1) });
        await d.commit({ records: 2, overwrite: d.overwritable().slice(1, 3) });
      },
    },
    {
      name: 'group-commit',
      async run(d) {
        await d.commit({ records: 2 });
        const targets = d.overwritable();
        await Promise.all([0, 1, 2, 3].map((i) => d.commit({ records: 2, recordSize: 700 + 300 * i, overwrite: i === 0 ? targets : [] })));
        await d.commit({ records: 1 });
      },
    },
    {
      name: 'seal',
      options: sealOptions,
      async run(d) {
        for (let i = 0; i < 5; i++) await d.commit({ records: 2, recordSize: 900, overwrite: d.overwritable().slice(0, 1) });
      },
    },
    {
      name: 'pack',
      options: sealOptions,
      async run(d) {
        for (let i = 0; i < 4; i++) await d.commit({ records: 2, recordSize: 700, overwrite: d.overwritable().slice(0, 2) });
        await d.db.pack();
        await d.commit({ records: 2, overwrite: d.overwritable().slice(0, 1) });
      },
    },
    {
      name: 'blobs',
      async run(d) {
        await d.commit({ records: 1, newBlob: 40_000 });
        const blob = d.blobs()[0]!;
        await d.commit({ records: 1, rewriteBlob: { oid: blob, size: 24_000 } });
        await d.commit({ records: 2, newBlob: 9_000 });
      },
    },
  ];
}
