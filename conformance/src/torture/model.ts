/**
 * The parent's model of the torture database: per committer its last committed transaction, the
 * tids of its transactions and the objects in its slots; every object ever committed with the
 * write it must hold (live), may hold or have lost to GC (garbage), or must not hold (deleted,
 * gone); and the transactions that appended to the shared record, with their tids. It learns
 * acknowledged transactions from ACK lines and in-flight ones from the heads found after a kill,
 * replaying each transaction's plan, so it knows exactly what every committer wrote.
 */
import type { Oid, Tid } from '@handlerton/framework';
import { MAX_COMMITTERS, planFor, SLOTS, type RootState } from './workload.js';

/** One object the model tracks. */
export interface Tracked {
  readonly oid: Oid;
  readonly kind: 'record' | 'blob';
  readonly c: number;
  readonly slot: number;
  /** The transaction of committer c that wrote the current bytes, and its tid. */
  wseq: number;
  wtid: Tid;
  /**
   * live: in a slot, must be present with exactly that write. garbage: unlinked, may be present
   * (with exactly that write) until GC deletes it. deleted: a committed transaction deleted it, must
   * be absent. gone: seen absent after a recovery, must stay absent.
   */
  state: 'live' | 'garbage' | 'deleted' | 'gone';
  /** For deleted / garbage: the transaction that unlinked it. */
  unlinkedBy?: number;
  /** A garbage blob's bytes were verified once (later checks verify its serial only). */
  verified?: boolean;
}

/** Per-committer model. */
export interface CommitterModel {
  /** Highest acknowledged transaction. */
  acked: number;
  /** Highest committed transaction known (acknowledged, or found committed after a kill). */
  last: number;
  readonly tids: Map<number, Tid>;
  /** The object in each slot, or null. */
  readonly slots: Array<Tracked | null>;
}

/** A transaction that appended to the shared record. */
export interface SharedAppend {
  readonly c: number;
  readonly seq: number;
  readonly tid: Tid;
}

/** The parent's model of the committed history; it only ever moves forward. */
export class TortureModel {
  /** The init transaction's tid as acknowledged by INIT, and as found (the root's serial). */
  initAck: Tid | undefined;
  initTid: Tid | undefined;
  root: RootState | undefined;
  /** Whether plans include deletes (from the writer's READY line). */
  deletes: boolean | undefined;
  readonly committers: CommitterModel[] = [];
  readonly objects = new Map<Oid, Tracked>();
  readonly shared: SharedAppend[] = [];
  /** Oids from here up are probed in full for stray objects; below only a sample. */
  probeFloor = 1n;
  /** Counts for the report. */
  readonly stats = { inFlightCommitted: 0, gcRemoved: 0, creates: 0, overwrites: 0, unlinks: 0, deletes: 0, sharedAppends: 0 };

  constructor(
    readonly seed: number,
    readonly maxBlobBytes: number,
  ) {
    for (let c = 0; c < MAX_COMMITTERS; c++) this.committers.push({ acked: 0, last: 0, tids: new Map(), slots: new Array<Tracked | null>(SLOTS).fill(null) });
  }

  /** The committer model of `c` (throws for an index out of range: a protocol error). */
  committer(c: number): CommitterModel {
    const model = this.committers[c];
    if (model === undefined) throw new Error(`committer ${c} out of range`);
    return model;
  }

  /** Every known tid, and the largest. */
  maxTid(): Tid {
    let max = this.initTid ?? 0n;
    for (const model of this.committers) for (const tid of model.tids.values()) if (tid > max) max = tid;
    return max;
  }

  /**
   * Applies committed transaction `seq` of committer `c` (it must be `last + 1`) with its tid and the
   * oid created per slot; returns a problem when the creations do not match the plan.
   */
  apply(c: number, seq: number, tid: Tid, created: ReadonlyMap<number, Oid>): string | undefined {
    const model = this.committer(c);
    if (seq !== model.last + 1) return `committer ${c}: transaction ${seq} committed, expected ${model.last + 1} next`;
    const occupancy = model.slots.map((t) => t?.kind);
    const plan = planFor(this.seed, c, seq, occupancy, this.deletes ?? false);
    const planned = [...plan.ops].filter(([, op]) => op.op === 'create').map(([slot]) => slot).sort();
    const got = [...created.keys()].sort();
    if (planned.join() !== got.join()) return `committer ${c} transaction ${seq}: created slots [${got}], the plan creates [${planned}]`;
    for (const oid of created.values()) {
      if (this.objects.has(oid) || oid === 0n) return `committer ${c} transaction ${seq}: created oid ${oid}, which already existed`;
    }
    for (const [slot, op] of plan.ops) {
      const current = model.slots[slot] ?? null;
      if (op.op === 'create') {
        const oid = created.get(slot) ?? 0n;
        const tracked: Tracked = { oid, kind: op.kind, c, slot, wseq: seq, wtid: tid, state: 'live' };
        this.objects.set(oid, tracked);
        model.slots[slot] = tracked;
        this.stats.creates++;
      } else if (current !== null && op.op === 'overwrite') {
        current.wseq = seq;
        current.wtid = tid;
        this.stats.overwrites++;
      } else if (current !== null && op.op === 'unlink') {
        current.state = op.delete ? 'deleted' : 'garbage';
        current.unlinkedBy = seq;
        model.slots[slot] = null;
        if (op.delete) this.stats.deletes++;
        else this.stats.unlinks++;
      }
    }
    if (plan.shared) {
      this.shared.push({ c, seq, tid });
      this.stats.sharedAppends++;
    }
    model.tids.set(seq, tid);
    model.last = seq;
    return undefined;
  }

  /** The shared appends in commit (tid) order. */
  sharedInOrder(): SharedAppend[] {
    return [...this.shared].sort((a, b) => (a.tid < b.tid ? -1 : a.tid > b.tid ? 1 : 0));
  }

  /** Highest oid the model knows. */
  maxOid(): Oid {
    let max = 0n;
    for (const oid of this.objects.keys()) if (oid > max) max = oid;
    for (const oid of [...(this.root?.heads ?? []), this.root?.shared ?? 0n]) if (oid > max) max = oid;
    return max;
  }

  /** True when oid is the root, the shared record or a head. */
  isLayout(oid: Oid): boolean {
    if (oid === 0n) return true;
    if (this.root === undefined) return false;
    return oid === this.root.shared || this.root.heads.includes(oid);
  }
}
