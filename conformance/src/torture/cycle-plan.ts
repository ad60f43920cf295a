/**
 * The seeded plan of each torture cycle: how many committers, which packs and GCs, and when the
 * writer is killed (while opening, in maintenance, after READY or the first ACK, after a pack
 * finished, or right before one of a pack's last file operations).
 */
import type { ChildKillPlan } from '../crash/writer-process.js';
import type { Prng } from '../crash/prng.js';
import type { MaintenanceOp, PackOps, TortureSpec } from './protocol.js';

/** The run settings a plan depends on (see TortureOptions). */
export interface PlanSettings {
  readonly minKillMs: number;
  readonly maxKillMs: number;
  readonly earlyKillRate: number;
  readonly maintenanceKillRate: number;
  readonly maxCommitters: number;
  readonly packCycleEvery: number;
}

/** What one cycle's writer does and when it is killed. */
export interface CyclePlan {
  readonly committers: number;
  readonly kill: ChildKillPlan;
  readonly maintenance: TortureSpec['maintenance'];
  readonly packWatch?: TortureSpec['packWatch'];
}

/** Most committers of a pack cycle's writer: few enough that its pack finishes in a few seconds under load. */
const PACK_CYCLE_COMMITTERS = 8;
/** What a kill inside a pack assumes before any watched pack finished (FileStorage2: publishing rename at 12 of 16). */
const PACK_OPS_GUESS: PackOps = { ops: 16, lastRename: 12 };

/**
 * The kind of pack cycle `cycle` is, if any: the 1st, 3rd, 5th ... kill after the pack; of the others,
 * two in three aim around the publishing rename, every third one after it.
 */
function packCycle(s: PlanSettings, cycle: number): 'after' | 'rename' | 'later' | undefined {
  if (s.packCycleEvery === 0 || cycle % s.packCycleEvery !== Math.floor(s.packCycleEvery / 2)) return undefined;
  const n = Math.floor(cycle / s.packCycleEvery);
  if (n % 2 === 0) return 'after';
  return Math.floor(n / 2) % 3 === 2 ? 'later' : 'rename';
}

/** The seeded plan of one cycle: committers, maintenance and when to kill. */
export function planCycle(prng: Prng, s: PlanSettings, cycle: number, learned: PackOps | undefined): CyclePlan {
  const pack = packCycle(s, cycle);
  if (pack !== undefined) {
    // A pack that runs to its end, then commits go on until the kill; or a kill right before one of
    // the pack's last file operations, placed by the previous finished pack: around its publishing
    // (last) rename (syncing the output, the rename, the directory fsync, removing the inputs: at
    // least 3 operations follow it in FileStorage2), or anywhere after it (releasing and reclaiming
    // blob revisions). If this pack makes fewer operations it finishes, and the kill comes after it.
    const committers = prng.int(1, Math.min(PACK_CYCLE_COMMITTERS, s.maxCommitters));
    const maintenance = [{ op: 'pack' as const, delayMs: prng.int(0, 100) }];
    const kill = { after: 'mainted', delayMs: prng.int(0, s.maxKillMs) };
    const { ops, lastRename } = learned ?? PACK_OPS_GUESS;
    const killAt = Math.max(1, pack === 'rename' ? lastRename + prng.int(-2, 3) : prng.int(lastRename + 1, Math.max(lastRename + 1, ops)));
    return { committers, kill, maintenance, packWatch: pack === 'after' ? {} : { killAt } };
  }
  const committers = prng.int(1, s.maxCommitters);
  const roll = prng.next();
  const op = (): MaintenanceOp => (prng.next() < 0.5 ? 'pack' : 'gc');
  if (roll < s.earlyKillRate) {
    return { committers, kill: { after: 'opening', delayMs: prng.int(0, s.maxKillMs) }, maintenance: [] };
  }
  if (roll < s.earlyKillRate + s.maintenanceKillRate) {
    const first = op();
    return { committers, kill: { after: 'maint', delayMs: prng.int(0, s.maxKillMs) }, maintenance: [{ op: first, delayMs: prng.int(0, 50) }, { op: first === 'gc' ? 'pack' : 'gc', delayMs: 0 }] };
  }
  const maintenance: Array<{ op: MaintenanceOp; delayMs: number }> = [];
  if (prng.next() < 0.4) maintenance.push({ op: op(), delayMs: prng.int(0, s.maxKillMs) });
  if (prng.next() < 0.2) maintenance.push({ op: op(), delayMs: prng.int(0, s.maxKillMs) });
  // Half of the other kills count from the first acknowledgement rather than from READY, so that
  // every such writer commits something however slow the machine is (first commits of 32
  // committers can take seconds under load); the rest often land in the very first commits.
  const after = prng.next() < 0.5 ? 'ack' : 'ready';
  return { committers, kill: { after, delayMs: prng.int(after === 'ack' ? 0 : s.minKillMs, s.maxKillMs) }, maintenance };
}

