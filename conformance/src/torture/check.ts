/**
 * The check of a reopened torture database against the model: the layout, every committer's head
 * (learning a committed in-flight transaction), every tracked object byte for byte with its serial,
 * the shared record in commit order, and stray objects; returns the problems by kind and a digest
 * of the state so two reopens can be compared.
 */
import { createHash, type Hash } from 'node:crypto';
import { ROOT_OID, type Database, type Oid, type ReadView } from '@handlerton/framework';
import { blobDigest, sameBytes } from '../util/view-digest.js';
import type { Tracked, TortureModel } from './model.js';
import { blobChunks, decodeHead, decodeRoot, decodeShared, MAX_COMMITTERS, planFor, recordContent, SHARED_TAIL, type HeadState } from './workload.js';

/** lost: acknowledged data is missing or changed (or recovered state went backwards); partial: a transaction is half visible or something no committed transaction wrote exists. */
export type ProblemKind = 'lost' | 'partial';

/** One broken invariant. */
export interface Problem {
  readonly kind: ProblemKind;
  readonly message: string;
}

/** What one check found. */
export interface TortureCheck {
  readonly problems: Problem[];
  /** SHA-256 over the layout, every head and every present object (oid, serial, bytes). */
  readonly digest: string;
  /** Objects verified. */
  readonly objects: number;
  /** Committers whose in-flight transaction was found committed by this check. */
  readonly inFlightCommitted: number;
}

/** Most oids probed in full for stray objects per check, and oids sampled below the probed range. */
const MAX_PROBES = 50_000;
const SAMPLE_BELOW = 32;

/** Checks a reopened database against `model`, moving the model forward to what it finds. */
export async function checkTorture(db: Database, model: TortureModel): Promise<TortureCheck> {
  const problems: Problem[] = [];
  const hash = createHash('sha256');
  const snapshot = await db.snapshot();
  let objects = 0;
  let inFlightCommitted = 0;
  try {
    const rootRecord = await snapshot.tryRead(ROOT_OID);
    if (rootRecord === undefined) {
      if (model.initTid !== undefined || model.initAck !== undefined) problems.push({ kind: 'lost', message: `the root (the layout committed by ${model.initTid ?? model.initAck}) is missing` });
      else await probeRange(snapshot, model, 1n, 64n, problems);
      return { problems, digest: hash.digest('hex'), objects, inFlightCommitted };
    }
    const root = decodeRoot(rootRecord.data);
    if (model.initAck !== undefined && rootRecord.tid !== model.initAck) problems.push({ kind: 'lost', message: `the root has serial ${rootRecord.tid}, the init transaction was acknowledged as ${model.initAck}` });
    if (model.root === undefined) {
      model.root = root;
      model.initTid = rootRecord.tid;
    } else if (rootRecord.tid !== model.initTid || root.shared !== model.root.shared || root.heads.join() !== model.root.heads.join()) {
      problems.push({ kind: 'lost', message: `the root changed: serial ${rootRecord.tid}, expected ${model.initTid}` });
      return { problems, digest: hash.digest('hex'), objects, inFlightCommitted };
    }
    hash.update(`root:${rootRecord.tid}:`).update(rootRecord.data);
    for (let c = 0; c < MAX_COMMITTERS; c++) {
      if (await checkHead(snapshot, model, c, root.heads[c] ?? 0n, hash, problems)) inFlightCommitted++;
    }
    await checkShared(snapshot, model, root.shared, hash, problems);
    const last = db.lastTransaction();
    if (last < model.maxTid()) problems.push({ kind: 'lost', message: `lastTransaction() is ${last}, below the committed tid ${model.maxTid()}` });
    for (const tracked of [...model.objects.values()].sort((a, b) => (a.oid < b.oid ? -1 : 1))) {
      if (await checkObject(snapshot, model, tracked, hash, problems)) objects++;
    }
    const top = model.maxOid() + 32n;
    const from = top - model.probeFloor > BigInt(MAX_PROBES) ? top - BigInt(MAX_PROBES) : model.probeFloor;
    await probeRange(snapshot, model, from, top, problems);
    await probeSample(snapshot, model, from, problems);
    model.probeFloor = model.maxOid() + 1n;
    return { problems, digest: hash.digest('hex'), objects, inFlightCommitted };
  } finally {
    await snapshot.close();
  }
}

function ackedWrite(model: TortureModel, c: number, seq: number): boolean {
  return seq <= model.committer(c).acked;
}

/** Checks committer c's head; learns its in-flight transaction when committed (returns true then). */
async function checkHead(view: ReadView, model: TortureModel, c: number, oid: Oid, hash: Hash, problems: Problem[]): Promise<boolean> {
  const committer = model.committer(c);
  const record = await view.tryRead(oid);
  if (record === undefined) {
    problems.push({ kind: 'lost', message: `the head of committer ${c} (oid ${oid}) is missing` });
    return false;
  }
  hash.update(`head ${c}:${record.tid}:`).update(record.data);
  let head: HeadState;
  try {
    head = decodeHead(record.data);
  } catch (error) {
    problems.push({ kind: 'lost', message: `the head of committer ${c} is unreadable: ${(error as Error).message}` });
    return false;
  }
  let learned = false;
  if (head.c !== c) problems.push({ kind: 'partial', message: `head oid ${oid} names committer ${head.c}, expected ${c}` });
  if (head.seq < committer.acked) problems.push({ kind: 'lost', message: `committer ${c}: acknowledged transaction ${committer.acked} (tid ${committer.tids.get(committer.acked)}) lost, the head is at ${head.seq}` });
  else if (head.seq < committer.last) problems.push({ kind: 'lost', message: `committer ${c}: the state went backwards, transaction ${committer.last} was recovered before, the head is at ${head.seq}` });
  else if (head.seq > committer.last + 1) problems.push({ kind: 'partial', message: `committer ${c}: the head is at transaction ${head.seq}, only ${committer.last} committed and one more can be in flight` });
  else if (head.seq === committer.last + 1) {
    // The in-flight transaction committed: learn what it created from the head, then check it whole.
    const occupancy = committer.slots.map((t) => t?.kind);
    const plan = planFor(model.seed, c, head.seq, occupancy, model.deletes ?? false);
    const created = new Map<number, Oid>();
    for (const [slot, op] of plan.ops) if (op.op === 'create') created.set(slot, head.slots[slot]?.oid ?? 0n);
    const problem = model.apply(c, head.seq, record.tid, created);
    if (problem !== undefined) problems.push({ kind: 'partial', message: `${problem} (learned from the head after the kill)` });
    else {
      learned = true;
      model.stats.inFlightCommitted++;
    }
  }
  const expectedTid = head.seq === 0 ? model.initTid : committer.tids.get(head.seq);
  if (head.seq <= committer.last && record.tid !== expectedTid) {
    problems.push({ kind: ackedWrite(model, c, head.seq) ? 'lost' : 'partial', message: `committer ${c}: head of transaction ${head.seq} has serial ${record.tid}, expected ${expectedTid}` });
  }
  if (head.seq === committer.last) {
    for (let slot = 0; slot < committer.slots.length; slot++) {
      const want = committer.slots[slot] ?? null;
      const got = head.slots[slot] ?? null;
      const same = want === null ? got === null : got !== null && got.oid === want.oid && got.kind === want.kind && got.wseq === want.wseq;
      if (!same) {
        problems.push({ kind: 'partial', message: `committer ${c} slot ${slot}: the head holds ${JSON.stringify(got, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}, the model ${want === null ? 'nothing' : `oid ${want.oid} ${want.kind} written by ${want.wseq}`}` });
      }
    }
  }
  return learned;
}

/** The shared record must hold exactly the committed appends, in tid order, with the last one's serial. */
async function checkShared(view: ReadView, model: TortureModel, oid: Oid, hash: Hash, problems: Problem[]): Promise<void> {
  const record = await view.tryRead(oid);
  if (record === undefined) {
    problems.push({ kind: 'lost', message: `the shared record (oid ${oid}) is missing` });
    return;
  }
  hash.update(`shared:${record.tid}:`).update(record.data);
  const ordered = model.sharedInOrder();
  const shared = decodeShared(record.data);
  const lastAppend = ordered[ordered.length - 1];
  const wantTid = lastAppend?.tid ?? model.initTid;
  const wantTail = ordered.slice(-SHARED_TAIL).map((a) => `${a.c}.${a.seq}`).join(' ');
  const gotTail = shared.tail.map(([c, s]) => `${c}.${s}`).join(' ');
  if (shared.count !== ordered.length || gotTail !== wantTail || record.tid !== wantTid) {
    const acked = ordered.filter((a) => ackedWrite(model, a.c, a.seq));
    const missing = acked.filter((a) => !shared.tail.some(([c, s]) => c === a.c && s === a.seq)).slice(-3);
    problems.push({
      kind: shared.count < ordered.length ? 'lost' : 'partial',
      message:
        `the shared record holds ${shared.count} appends (serial ${record.tid}), the committed transactions made ${ordered.length} (last ${wantTid}); ` +
        `tail [${gotTail.split(' ').slice(-6).join(' ')}], expected [${wantTail.split(' ').slice(-6).join(' ')}]${missing.length > 0 ? `; acknowledged appends missing from the tail: ${missing.map((a) => `${a.c}.${a.seq}`).join(' ')}` : ''}`,
    });
  }
}

/** Checks one tracked object; returns true when it was present and verified. */
async function checkObject(view: ReadView, model: TortureModel, tracked: Tracked, hash: Hash, problems: Problem[]): Promise<boolean> {
  if (tracked.state === 'gone') return false;
  const record = await view.tryRead(tracked.oid);
  const what = `${tracked.kind} oid ${tracked.oid} (committer ${tracked.c} slot ${tracked.slot}, written by transaction ${tracked.wseq} tid ${tracked.wtid}${ackedWrite(model, tracked.c, tracked.wseq) ? ', acknowledged' : ''})`;
  if (tracked.state === 'deleted') {
    if (record !== undefined) {
      const by = tracked.unlinkedBy ?? 0;
      problems.push({ kind: ackedWrite(model, tracked.c, by) ? 'lost' : 'partial', message: `${what} exists although transaction ${by} of committer ${tracked.c} deleted it` });
      return false;
    }
    tracked.state = 'gone';
    return false;
  }
  if (record === undefined) {
    if (tracked.state === 'garbage') {
      tracked.state = 'gone';
      model.stats.gcRemoved++;
    } else problems.push({ kind: ackedWrite(model, tracked.c, tracked.wseq) ? 'lost' : 'partial', message: `${what} is missing` });
    return false;
  }
  const kind = ackedWrite(model, tracked.c, tracked.wseq) ? 'lost' : 'partial';
  if (record.tid !== tracked.wtid) problems.push({ kind, message: `${what} has serial ${record.tid}` });
  hash.update(`${tracked.oid}:${record.tid}:`);
  if (tracked.kind === 'record') {
    const want = recordContent(model.seed, tracked.c, tracked.wseq, tracked.slot);
    if (!sameBytes(record.data, want)) problems.push({ kind, message: `${what}: ${record.data.length} bytes differ from the ${want.length} written` });
    hash.update(record.data);
    return true;
  }
  if (tracked.state === 'garbage' && tracked.verified === true) return true;
  const actual = await blobDigest(view, tracked.oid);
  const wanted = expectedBlobDigest(model, tracked);
  if (actual.size !== wanted.size || actual.sha !== wanted.sha) {
    problems.push({ kind, message: `${what}: blob of ${actual.size} bytes sha ${actual.sha.slice(0, 12)}, expected ${wanted.size} bytes sha ${wanted.sha.slice(0, 12)}` });
  }
  if (tracked.state === 'garbage') tracked.verified = true;
  else hash.update(actual.sha);
  return true;
}

/** Every oid in [from, to] that is not tracked (or tracked as gone) must be absent. */
async function probeRange(view: ReadView, model: TortureModel, from: Oid, to: Oid, problems: Problem[]): Promise<void> {
  const strays: Oid[] = [];
  for (let oid = from < 1n ? 1n : from; oid <= to; oid++) {
    if (await isStray(view, model, oid)) strays.push(oid);
  }
  reportStrays(strays, problems);
}

/** A sample of oids below the fully probed range must be absent too (gone objects stay gone). */
async function probeSample(view: ReadView, model: TortureModel, below: Oid, problems: Problem[]): Promise<void> {
  if (below <= 1n) return;
  const strays: Oid[] = [];
  const span = Number(below - 1n);
  const step = Math.max(1, Math.floor(span / SAMPLE_BELOW));
  // Deterministic per state, different from check to check as the history grows.
  const offset = Number(model.maxTid() % BigInt(step));
  for (let i = 1 + offset; i < Number(below); i += step) {
    if (await isStray(view, model, BigInt(i))) strays.push(BigInt(i));
  }
  reportStrays(strays, problems);
}

async function isStray(view: ReadView, model: TortureModel, oid: Oid): Promise<boolean> {
  const tracked = model.objects.get(oid);
  if (model.isLayout(oid) || (tracked !== undefined && tracked.state !== 'gone')) return false;
  return (await view.tryRead(oid)) !== undefined;
}

function reportStrays(strays: readonly Oid[], problems: Problem[]): void {
  if (strays.length === 0) return;
  const shown = strays.slice(0, 8).join(', ') + (strays.length > 8 ? `, ... (${strays.length} in all)` : '');
  problems.push({ kind: 'partial', message: `oids ${shown} exist but no committed transaction wrote them (or they were deleted): a partial transaction is visible` });
}

const digestCache = new Map<string, { size: number; sha: string }>();

/** Size and SHA-256 of the blob write a tracked object holds, generated piece by piece (cached). */
function expectedBlobDigest(model: TortureModel, tracked: Tracked): { size: number; sha: string } {
  const key = `${model.seed}.${tracked.c}.${tracked.wseq}.${tracked.slot}.${model.maxBlobBytes}`;
  const cached = digestCache.get(key);
  if (cached !== undefined) return cached;
  const hash = createHash('sha256');
  let size = 0;
  for (const chunk of blobChunks(model.seed, tracked.c, tracked.wseq, tracked.slot, model.maxBlobBytes)) {
    size += chunk.length;
    hash.update(chunk);
  }
  const result = { size, sha: hash.digest('hex') };
  if (digestCache.size > 20_000) digestCache.clear();
  digestCache.set(key, result);
  return result;
}
