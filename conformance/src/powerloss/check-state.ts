/**
 * The invariants checked on one post-crash state, opened with the plain file system: every
 * acknowledged transaction present byte for byte, all or nothing per transaction, the surviving
 * transactions a gap-free prefix in commit order, no stray objects, the database opens, and a
 * second open gives the same state.
 */
import { createHash } from 'node:crypto';
import { openDatabase, type DatabaseConfig, type Oid, type ReadView, type Tid } from '@handlerton/framework';
import type { ExpectedObject, TxnRecord } from './workloads.js';

/** Oids above the highest known one probed for stray objects. */
const STRAY_PROBE = 16n;

/** What the check of one state found. */
export interface StateVerdict {
  /** Acknowledged data missing or wrong. */
  readonly lost: string[];
  /** A transaction half visible, a gap in the commit order, a stray object. */
  readonly partial: string[];
  /** Why the database did not open (undefined when it did). */
  readonly unopenable?: string;
  /** The second open differed from the first. */
  readonly unstable?: string;
  /** Indices of the transactions present after the first open. */
  readonly present: readonly number[];
}

interface Observation {
  readonly lost: string[];
  readonly partial: string[];
  readonly present: number[];
  readonly digest: string;
}

/** Opens the state in `config` twice and checks it against `txns`, of which `acked` must be present. */
export async function checkState(config: DatabaseConfig, txns: readonly TxnRecord[], acked: ReadonlySet<number>): Promise<StateVerdict> {
  const first = await observeOnce(config, txns, acked);
  if (typeof first === 'string') return { lost: [], partial: [], unopenable: first, present: [] };
  const second = await observeOnce(config, txns, acked);
  if (typeof second === 'string') return { lost: first.lost, partial: first.partial, unopenable: `second open: ${second}`, present: first.present };
  const unstable = second.digest === first.digest ? undefined : `the second open shows a different state (transactions [${first.present}] then [${second.present}])`;
  return { lost: first.lost, partial: first.partial, present: first.present, ...(unstable ? { unstable } : {}) };
}

async function observeOnce(config: DatabaseConfig, txns: readonly TxnRecord[], acked: ReadonlySet<number>): Promise<Observation | string> {
  let db;
  try {
    db = await openDatabase(config);
  } catch (error) {
    return describe(error);
  }
  try {
    const view = await db.snapshot();
    try {
      return await observe(view, db.lastTransaction(), txns, acked);
    } finally {
      await view.close();
    }
  } finally {
    await db.close().catch(() => undefined);
  }
}

async function observe(view: ReadView, lastTid: Tid, txns: readonly TxnRecord[], acked: ReadonlySet<number>): Promise<Observation> {
  const lost: string[] = [];
  const partial: string[] = [];
  const flag = (txn: TxnRecord | undefined, message: string): void => {
    (txn !== undefined && acked.has(txn.index) ? lost : partial).push(message);
  };
  const ordered = [...txns].sort((a, b) => (a.tid < b.tid ? -1 : a.tid > b.tid ? 1 : 0));
  const present: TxnRecord[] = [];
  for (const txn of ordered) {
    let tid: Tid | undefined;
    try {
      tid = (await view.tryRead(txn.marker))?.tid;
    } catch (error) {
      flag(txn, `reading the marker of transaction ${txn.index} (oid ${txn.marker}) failed: ${describe(error)}`);
      continue;
    }
    if (tid === txn.tid) present.push(txn);
    else if (tid !== undefined) partial.push(`the marker of transaction ${txn.index} (oid ${txn.marker}) has serial ${tid}, expected ${txn.tid}`);
    else if (acked.has(txn.index)) lost.push(`acknowledged transaction ${txn.index} (tid ${txn.tid}) is missing`);
  }
  const presentSet = new Set(present.map((t) => t.index));
  const lastPresent = present.length === 0 ? -1 : ordered.indexOf(present[present.length - 1]!);
  for (let i = 0; i < lastPresent; i++) {
    const txn = ordered[i]!;
    if (!presentSet.has(txn.index)) partial.push(`transaction ${txn.index} (tid ${txn.tid}) is missing but the later transaction ${ordered[lastPresent]!.index} is present: a gap in the commit order`);
  }
  const expectedLast = present.length === 0 ? undefined : present[present.length - 1]!.tid;
  if (expectedLast !== undefined && lastTid !== expectedLast) {
    partial.push(`lastTransaction() is ${lastTid}, the last transaction present has tid ${expectedLast}`);
  }
  if (expectedLast === undefined && lastTid !== 0n) partial.push(`lastTransaction() is ${lastTid} but no transaction is present`);
  const hash = createHash('sha256');
  hash.update(`last ${lastTid};present ${[...presentSet].sort((a, b) => a - b).join(',')};`);
  const expected = expectedObjects(ordered, presentSet);
  let maxOid = 0n;
  for (const [oid, want] of expected) {
    if (oid > maxOid) maxOid = oid;
    const what = `oid ${oid}` + (want === undefined ? '' : ` (written last by transaction ${want.txn.index}${acked.has(want.txn.index) ? ', acknowledged' : ''})`);
    try {
      const record = await view.tryRead(oid);
      hash.update(`${oid}:${record?.tid ?? '-'}:`);
      if (want === undefined) {
        if (record !== undefined) partial.push(`${what} exists (serial ${record.tid}) but no transaction present wrote it`);
        continue;
      }
      if (record === undefined) {
        flag(want.txn, `${what} is missing`);
        continue;
      }
      if (record.tid !== want.txn.tid) flag(want.txn, `${what} has serial ${record.tid}, expected ${want.txn.tid}`);
      const actual = want.object.kind === 'blob' ? await blobDigest(view, oid) : undefined;
      const mismatch = compare(want.object, record.data, actual);
      if (mismatch !== undefined) flag(want.txn, `${what}: ${mismatch}`);
      hash.update(actual?.sha256 ?? record.data);
    } catch (error) {
      flag(want?.txn, `reading ${what} failed: ${describe(error)}`);
    }
  }
  for (let oid = 1n; oid <= maxOid + STRAY_PROBE; oid++) {
    if (expected.has(oid)) continue;
    try {
      const record = await view.tryRead(oid);
      if (record !== undefined) partial.push(`oid ${oid} exists (serial ${record.tid}) but no workload transaction wrote it`);
    } catch (error) {
      partial.push(`probing oid ${oid} failed: ${describe(error)}`);
    }
  }
  return { lost, partial, present: present.map((t) => t.index), digest: hash.digest('hex') };
}

/** For every oid any transaction wrote: the last write among the present transactions, or undefined. */
function expectedObjects(ordered: readonly TxnRecord[], present: ReadonlySet<number>): Map<Oid, { txn: TxnRecord; object: ExpectedObject } | undefined> {
  const expected = new Map<Oid, { txn: TxnRecord; object: ExpectedObject } | undefined>();
  for (const txn of ordered) {
    for (const [oid, object] of txn.writes) {
      if (present.has(txn.index)) expected.set(oid, { txn, object });
      else if (!expected.has(oid)) expected.set(oid, undefined);
    }
  }
  return new Map([...expected].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function compare(want: ExpectedObject, data: Uint8Array, blob: { size: number; sha256: string } | undefined): string | undefined {
  if (want.kind === 'blob') {
    if (blob === undefined) return 'not a blob';
    return blob.size === want.size && blob.sha256 === want.sha256 ? undefined : `blob holds ${blob.size} bytes sha ${blob.sha256.slice(0, 12)}, expected ${want.size} bytes sha ${want.sha256.slice(0, 12)}`;
  }
  if (data.length !== want.data.length) return `record holds ${data.length} bytes, expected ${want.data.length}`;
  for (let i = 0; i < data.length; i++) if (data[i] !== want.data[i]) return `record differs at byte ${i}`;
  return undefined;
}

async function blobDigest(view: ReadView, oid: Oid): Promise<{ size: number; sha256: string }> {
  const handle = await (await view.blob(oid)).open('r');
  try {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of handle.createReadStream({ highWaterMark: 64 * 1024 })) {
      size += (chunk as Uint8Array).length;
      hash.update(chunk as Uint8Array);
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    await handle.close();
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}${(error as { code?: string }).code ? ` [${(error as { code?: string }).code}]` : ''}: ${error.message}`;
  return String(error);
}
