/**
 * The parent's model of what the database must hold after a crash, and the check of a reopened
 * database against it: walks the manifest chain from the root to learn the transactions committed
 * since the last check, then verifies every object byte for byte, its serial, the absence of
 * objects no committed transaction wrote, and returns a digest of the whole state.
 */
import { createHash } from 'node:crypto';
import { ROOT_OID, type Database, type Oid, type ReadView, type Tid } from '@handlerton/framework';
import { blobDigest, sameBytes } from '../util/view-digest.js';
import {
  blobChunks,
  blobSize,
  decodeManifest,
  decodeRoot,
  expectedBlobLabels,
  expectedRecordLabels,
  planFor,
  recordContent,
  type ManifestState,
  type RootState,
} from './workload.js';

/** One object the model expects: written last by transaction `seq` under `label`. */
interface Expected {
  readonly kind: 'record' | 'blob' | 'manifest';
  readonly seq: number;
  readonly label: number;
  /** The manifest's own bytes (manifests hold engine oids, so they are not derived). */
  readonly bytes?: Uint8Array;
}

/** What one check found. */
export interface CheckResult {
  /** The last transaction present (0 for an empty database). */
  readonly seq: number;
  /** Problems found; empty when the state is correct. */
  readonly problems: string[];
  /** SHA-256 over every object's oid, serial and bytes, in oid order. */
  readonly digest: string;
  /** Objects verified. */
  readonly objects: number;
}

/** Most objects probed for "present but written by no committed transaction" per check. */
const MAX_ORPHAN_PROBES = 4096;

/** The parent's model of the committed history; it only ever moves forward. */
export class CrashModel {
  /** The last transaction recovered so far (durable from then on). */
  lastSeq = 0;
  /** The highest acknowledged transaction. */
  ackedSeq = 0;
  readonly #acks = new Map<number, Tid>();
  readonly #tids = new Map<number, Tid>();
  readonly #manifests = new Map<number, Oid>();
  readonly #objects = new Map<Oid, Expected>();
  #hot: readonly Oid[] | undefined;
  #hotBlob: Oid | undefined;

  constructor(readonly blobs: boolean) {}

  /** Records an acknowledgement from a writer. */
  acknowledge(seq: number, tid: Tid): void {
    this.#acks.set(seq, tid);
    if (seq > this.ackedSeq) this.ackedSeq = seq;
  }

  /** Checks a reopened database against the model and moves the model to its state. */
  async check(db: Database): Promise<CheckResult> {
    const problems: string[] = [];
    const snapshot = await db.snapshot();
    try {
      const root = await this.#readRoot(snapshot, db.lastTransaction(), problems);
      const rootTid = root === undefined ? 0n : ((await snapshot.tryRead(ROOT_OID))?.tid ?? 0n);
      const seq = root?.seq ?? 0;
      const floor = Math.max(this.lastSeq, this.ackedSeq);
      if (seq < this.ackedSeq) problems.push(`acknowledged transaction ${this.ackedSeq} (tid ${this.#acks.get(this.ackedSeq)}) lost: the database ends at transaction ${seq}`);
      if (seq < this.lastSeq) problems.push(`the state went backwards: transaction ${this.lastSeq} was recovered before, now the database ends at ${seq}`);
      if (seq > floor + 1) problems.push(`transaction ${seq} is present but only ${floor} were acknowledged or recovered and one more can be in flight`);
      if (root !== undefined && seq > this.lastSeq && seq <= floor + 1) await this.#learn(snapshot, root, problems);
      if (root !== undefined && seq === this.lastSeq) this.#checkRootAgainstModel(root, rootTid, problems);
      const { digest, objects } = await this.#verifyAll(snapshot, `${seq}:${root?.manifest ?? ''}:${rootTid}`, problems);
      await this.#probeOrphans(snapshot, problems);
      return { seq, problems, digest, objects };
    } finally {
      await snapshot.close();
    }
  }

  async #readRoot(view: ReadView, lastTid: Tid, problems: string[]): Promise<RootState | undefined> {
    const record = await view.tryRead(ROOT_OID);
    if (record === undefined) {
      if (lastTid !== 0n) problems.push(`no root record but lastTransaction() is ${lastTid}: a partial transaction is visible`);
      return undefined;
    }
    let root: RootState;
    try {
      root = decodeRoot(record.data);
    } catch (error) {
      problems.push(`root record unreadable: ${(error as Error).message}`);
      return undefined;
    }
    if (record.tid !== lastTid) {
      problems.push(`lastTransaction() is ${lastTid} but the root (transaction ${root.seq}) was written by ${record.tid}: a later transaction is partly visible`);
    }
    const ackTid = this.#acks.get(root.seq);
    if (ackTid !== undefined && ackTid !== record.tid) problems.push(`root of transaction ${root.seq} has serial ${record.tid}, the writer acknowledged tid ${ackTid}`);
    if (this.#hot !== undefined && root.hot.join() !== this.#hot.join()) problems.push('the hot record oids in the root changed');
    if (this.#hotBlob !== undefined && root.hotBlob !== this.#hotBlob) problems.push('the hot blob oid in the root changed');
    return root;
  }

  /** Walks the manifest chain back to the last known transaction and adds the new ones. */
  async #learn(view: ReadView, root: RootState, problems: string[]): Promise<void> {
    const found: Array<{ oid: Oid; tid: Tid; bytes: Uint8Array; manifest: ManifestState }> = [];
    let oid: Oid | undefined = root.manifest;
    for (let expected = root.seq; expected > this.lastSeq; expected--) {
      if (oid === undefined) {
        problems.push(`the manifest chain ends before transaction ${expected}`);
        return;
      }
      const record = await view.tryRead(oid);
      if (record === undefined) {
        problems.push(`manifest of transaction ${expected} (oid ${oid}) missing: transaction ${expected} is partly visible or lost`);
        return;
      }
      let manifest: ManifestState;
      try {
        manifest = decodeManifest(record.data);
      } catch (error) {
        problems.push(`manifest of transaction ${expected} (oid ${oid}) unreadable: ${(error as Error).message}`);
        return;
      }
      if (manifest.seq !== expected) {
        problems.push(`manifest oid ${oid} names transaction ${manifest.seq}, expected ${expected}: a gap in the commit order`);
        return;
      }
      this.#checkPlan(manifest, problems);
      found.push({ oid, tid: record.tid, bytes: record.data, manifest });
      oid = manifest.previous;
    }
    const knownPrevious = this.#manifests.get(this.lastSeq);
    if (knownPrevious !== oid) problems.push(`the manifest chain does not join transaction ${this.lastSeq} (found ${oid}, expected ${knownPrevious})`);
    if (problems.length > 0) return;
    for (const { oid: manifestOid, tid, bytes, manifest } of found.reverse()) {
      const ackTid = this.#acks.get(manifest.seq);
      if (ackTid !== undefined && ackTid !== tid) problems.push(`transaction ${manifest.seq} committed as ${tid}, the writer acknowledged tid ${ackTid}`);
      const previousTid = this.#tids.get(manifest.seq - 1);
      if (previousTid !== undefined && tid <= previousTid) problems.push(`transaction ${manifest.seq} has tid ${tid}, not after transaction ${manifest.seq - 1} (${previousTid})`);
      this.#tids.set(manifest.seq, tid);
      this.#manifests.set(manifest.seq, manifestOid);
      this.#objects.set(manifestOid, { kind: 'manifest', seq: manifest.seq, label: -1, bytes });
      for (const [recordOid, label] of manifest.records) this.#objects.set(recordOid, { kind: 'record', seq: manifest.seq, label });
      for (const [blobOid, label] of manifest.blobs) this.#objects.set(blobOid, { kind: 'blob', seq: manifest.seq, label });
    }
    this.#hot ??= root.hot;
    this.#hotBlob ??= root.hotBlob;
    this.lastSeq = root.seq;
  }

  /** The root must name the manifest and carry the tid the model holds for its transaction. */
  #checkRootAgainstModel(root: RootState, rootTid: Tid, problems: string[]): void {
    const manifest = this.#manifests.get(root.seq);
    const tid = this.#tids.get(root.seq);
    if (manifest !== undefined && manifest !== root.manifest) problems.push(`the root names manifest ${root.manifest} for transaction ${root.seq}, expected ${manifest}`);
    if (tid !== undefined && tid !== rootTid) problems.push(`the root of transaction ${root.seq} has serial ${rootTid}, expected ${tid}`);
  }

  #checkPlan(manifest: ManifestState, problems: string[]): void {
    const plan = planFor(manifest.seq, this.blobs);
    const records = manifest.records.map(([, label]) => label).sort((a, b) => a - b);
    const blobs = manifest.blobs.map(([, label]) => label).sort((a, b) => a - b);
    if (records.join() !== expectedRecordLabels(plan).join() || blobs.join() !== expectedBlobLabels(plan).join()) {
      problems.push(`manifest of transaction ${manifest.seq} lists writes [${records}] / blobs [${blobs}], the workload writes [${expectedRecordLabels(plan)}] / [${expectedBlobLabels(plan)}]`);
    }
  }

  async #verifyAll(view: ReadView, rootSummary: string, problems: string[]): Promise<{ digest: string; objects: number }> {
    const hash = createHash('sha256');
    hash.update(`root ${rootSummary};`);
    const oids = [...this.#objects.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const oid of oids) {
      const expected = this.#objects.get(oid);
      if (expected === undefined) continue;
      const what = `${expected.kind} oid ${oid} (transaction ${expected.seq}${this.#acks.has(expected.seq) ? ', acknowledged' : ''}, label ${expected.label})`;
      const record = await view.tryRead(oid);
      if (record === undefined) {
        problems.push(`${what} missing`);
        continue;
      }
      const tid = this.#tids.get(expected.seq);
      if (record.tid !== tid) problems.push(`${what} has serial ${record.tid}, expected ${tid}`);
      hash.update(`${oid}:${record.tid}:`);
      if (expected.kind === 'blob') {
        const actual = await blobDigest(view, oid);
        const wanted = expectedBlobDigest(expected.seq, expected.label);
        if (actual.sha !== wanted.sha || actual.size !== wanted.size) problems.push(`${what} blob bytes differ: ${actual.size} bytes sha ${actual.sha.slice(0, 12)}, expected ${wanted.size} bytes sha ${wanted.sha.slice(0, 12)}`);
        hash.update(actual.sha);
      } else {
        const wanted = expected.bytes ?? recordContent(expected.seq, expected.label);
        if (!sameBytes(record.data, wanted)) problems.push(`${what} bytes differ (${record.data.length} bytes, expected ${wanted.length})`);
        hash.update(record.data);
      }
    }
    return { digest: hash.digest('hex'), objects: oids.length };
  }

  /** Objects no committed transaction wrote must not exist (a partial transaction leaks them). */
  async #probeOrphans(view: ReadView, problems: string[]): Promise<void> {
    let max = 0n;
    for (const oid of this.#objects.keys()) if (oid > max) max = oid;
    const top = max + 16n;
    const dense = top <= BigInt(this.#objects.size + MAX_ORPHAN_PROBES);
    const start = dense ? 1n : max + 1n;
    const orphans: Oid[] = [];
    for (let oid = start; oid <= top; oid++) {
      if (this.#objects.has(oid)) continue;
      if ((await view.tryRead(oid)) !== undefined) orphans.push(oid);
    }
    if (orphans.length > 0) {
      const shown = orphans.slice(0, 8).join(', ') + (orphans.length > 8 ? `, ... (${orphans.length} in all)` : '');
      problems.push(`oids ${shown} exist but no committed transaction wrote them: a partial transaction is visible`);
    }
  }
}

const blobDigestCache = new Map<string, { size: number; sha: string }>();

/** Size and SHA-256 of blob write (seq, label), generated piece by piece (cached). */
function expectedBlobDigest(seq: number, label: number): { size: number; sha: string } {
  const key = `${seq}.${label}`;
  const cached = blobDigestCache.get(key);
  if (cached !== undefined) return cached;
  const hash = createHash('sha256');
  for (const chunk of blobChunks(seq, label)) hash.update(chunk);
  const result = { size: blobSize(seq, label), sha: hash.digest('hex') };
  blobDigestCache.set(key, result);
  return result;
}
