/** Text output of the torture harness: one progress line per cycle and the figures of a run. */
import type { TortureCycle, TortureDetails } from './loop.js';

/** One progress line for a finished cycle. */
export function formatTortureCycle(cycle: TortureCycle, total: number): string {
  const trigger: Record<string, string> = { opening: 'while opening ', maint: 'in maintenance ', ack: 'after the first ACK ', mainted: 'after the pack finished ' };
  const aim = cycle.packKillAt === undefined ? '' : `inside the pack before op ${cycle.packKillAt}, else `;
  const kill = `${aim}${trigger[cycle.kill.after] ?? ''}+${cycle.kill.delayMs}ms`;
  const where = cycle.packKill === undefined ? '' : ` at op ${cycle.packKill.op} ${cycle.packKill.call} ${cycle.packKill.file}`;
  const ops = cycle.packOps === undefined ? '' : `, ${cycle.packOps.ops} pack ops, last rename ${cycle.packOps.lastRename}`;
  const maintenance = cycle.maintenance.length === 0 ? '-' : `${cycle.maintenance.join(',')} (${cycle.maintenanceDone} done${ops}${cycle.killedIn === undefined ? '' : `, killed in ${cycle.killedIn}${where}`})`;
  const status = cycle.problems.length === 0 ? 'ok' : `${cycle.problems.length} VIOLATION(S): ${cycle.problems[0]}`;
  return (
    `cycle ${cycle.cycle}/${total}: committers=${cycle.committers} kill ${kill} acked=${cycle.acknowledged} conflicts=${cycle.conflicts} ` +
    `in-flight committed=${cycle.inFlightCommitted} maintenance=${maintenance} recovery=${cycle.recoveryMs.join('/')}ms objects=${cycle.objects} writer=${cycle.writerMs}ms check=${cycle.checkMs}ms ${status}`
  );
}

/** The figures of a run, one line. */
export function formatTortureDetails(d: TortureDetails): string {
  return (
    `conflict retries=${d.conflicts} early kills=${d.earlyKills} maintenance kills=${d.maintenanceKills} (in pack ${d.killsInPack}, in gc ${d.killsInGc}) ` +
    `packs=${d.packs} gcs=${d.gcs} pack cycles=${d.packCycles} (pack finished in ${d.packCyclesCompleted}, killed at a pack op in ${d.packOpKills}${formatCalls(d.packOpKillCalls)}) in-flight found committed=${d.inFlightCommitted} removed by gc=${d.gcRemoved} ` +
    `creates=${d.creates} overwrites=${d.overwrites} unlinks=${d.unlinks} deletes=${d.deletes} shared appends=${d.sharedAppends} ` +
    `recovery median=${d.recoveryMs.median}ms max=${d.recoveryMs.max}ms (${d.recoveryMs.samples} reopens) cycles/min=${d.cyclesPerMinute}` +
    (d.keptDir === undefined ? '' : ` database kept in ${d.keptDir}`)
  );
}

function formatCalls(calls: Readonly<Record<string, number>>): string {
  const parts = Object.entries(calls).map(([call, n]) => `${call} ${n}`);
  return parts.length === 0 ? '' : `: ${parts.join(', ')}`;
}
