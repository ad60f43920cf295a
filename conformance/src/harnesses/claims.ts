/**
 * Which claimed durability capabilities the fault harnesses verified in a run. A capability an
 * engine claims but no clean harness run backs is reported "claimed, not verified" in the matrix,
 * the JSON report and JUnit, never silently passed over.
 */
import type { BlobCapabilities, StorageCapabilities } from '@handlerton/framework';
import type { HarnessKind, HarnessReport } from './harness-report.js';

/** The claims the harnesses can verify, and the harnesses each one needs. */
export const CLAIM_PROOFS = {
  'storage.crashSafe': ['torture'],
  'storage.durable': ['faults', 'powerloss'],
  'blobs.durable': ['faults', 'powerloss'],
} as const satisfies Readonly<Record<string, readonly HarnessKind[]>>;

/** One of the claims in CLAIM_PROOFS. */
export type ProvableClaim = keyof typeof CLAIM_PROOFS;

/** What became of one claim. */
export type ClaimStatus = 'verified' | 'claimed, not verified' | 'failed' | 'not claimed';

/** The verdict on one claim of one engine. */
export interface ClaimVerdict {
  readonly claim: ProvableClaim;
  readonly status: ClaimStatus;
  /** Harnesses that ran clean for it. */
  readonly verifiedBy: readonly HarnessKind[];
  /** Harnesses it needs that did not run, or could not verify the engine (with why). */
  readonly missing: readonly { readonly harness: HarnessKind; readonly reason: string }[];
  /** Harnesses that found violations. */
  readonly failedIn: readonly HarnessKind[];
}

/** Judges each provable claim of the declared manifests against the harness reports of the same engine. */
export function verifyClaims(
  declared: { readonly storage: StorageCapabilities; readonly blobs: BlobCapabilities },
  reports: readonly HarnessReport[],
): ClaimVerdict[] {
  const claimed: Record<ProvableClaim, boolean> = {
    'storage.crashSafe': declared.storage.crashSafe,
    'storage.durable': declared.storage.durable,
    'blobs.durable': declared.blobs.durable,
  };
  return (Object.keys(CLAIM_PROOFS) as ProvableClaim[]).map((claim) => {
    const needed: readonly HarnessKind[] = CLAIM_PROOFS[claim];
    const verifiedBy: HarnessKind[] = [];
    const failedIn: HarnessKind[] = [];
    const missing: { harness: HarnessKind; reason: string }[] = [];
    for (const harness of needed) {
      const runs = reports.filter((r) => r.harness === harness);
      if (runs.some((r) => r.notVerified === undefined && !r.ok)) failedIn.push(harness);
      else if (runs.some((r) => r.ok && r.notVerified === undefined)) verifiedBy.push(harness);
      else missing.push({ harness, reason: runs.find((r) => r.notVerified !== undefined)?.notVerified ?? 'not run' });
    }
    const status: ClaimStatus = !claimed[claim]
      ? 'not claimed'
      : failedIn.length > 0
        ? 'failed'
        : missing.length > 0
          ? 'claimed, not verified'
          : 'verified';
    return { claim, status, verifiedBy, missing, failedIn };
  });
}

/** One line per claim: `crashSafe  verified (torture)` or `durable  claimed, not verified (powerloss: not run)`. */
export function describeVerdict(verdict: ClaimVerdict): string {
  const parts: string[] = [];
  if (verdict.verifiedBy.length > 0) parts.push(`verified by ${verdict.verifiedBy.join(', ')}`);
  if (verdict.failedIn.length > 0) parts.push(`violations in ${verdict.failedIn.join(', ')}`);
  for (const m of verdict.missing) parts.push(`${m.harness}: ${m.reason}`);
  return parts.length === 0 || verdict.status === 'not claimed' ? verdict.status : `${verdict.status} (${parts.join('; ')})`;
}

/** The claims table of several engines: one row per engine, one column per provable claim. */
export function formatClaims(rows: readonly { readonly engine: string; readonly verdicts: readonly ClaimVerdict[] }[]): string {
  const lines = ['claims (verified only by a clean fault-harness run of this invocation or a --harness-report):'];
  for (const row of rows) {
    for (const verdict of row.verdicts) lines.push(`  ${row.engine}  ${verdict.claim.padEnd(17)}  ${describeVerdict(verdict)}`);
  }
  return lines.join('\n');
}
