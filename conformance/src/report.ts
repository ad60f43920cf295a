/** Reports of a run: the JSON document, JUnit XML, and the engine x area matrix. */
import type { BlobCapabilities, StorageCapabilities } from '@handlerton/framework';
import { SUITE_VERSION } from './version.js';
import { AREAS, type CaseResult } from './types.js';
import { describeVerdict, type ClaimVerdict } from './harnesses/claims.js';
import type { HarnessReport } from './harnesses/harness-report.js';

/** The JSON report (`--json`): enough for CI to publish a capability/conformance badge. */
export interface ConformanceReport {
  readonly suiteVersion: string;
  readonly engine: string;
  readonly declaredCapabilities: { readonly storage: StorageCapabilities; readonly blobs: BlobCapabilities };
  readonly summary: { readonly pass: number; readonly fail: number; readonly skip: number };
  readonly results: readonly {
    readonly id: string;
    readonly area: string;
    readonly title: string;
    readonly source?: string;
    /** The contract rules the case checks (`storage.ts#Storage.tpcBegin`, ...). */
    readonly rule?: readonly string[];
    readonly status: CaseResult['status'];
    readonly reason?: string;
    readonly durationMs: number;
  }[];
  /** The fault harnesses run against this engine (or read with --harness-report), summary lines included. */
  readonly harnesses?: readonly HarnessReport[];
  /** Each provable durability claim: verified, "claimed, not verified", failed or not claimed. */
  readonly claims?: readonly ClaimVerdict[];
}

/** The report with the harness results and claim verdicts added. */
export function withClaims(report: ConformanceReport, harnesses: readonly HarnessReport[], claims: readonly ClaimVerdict[]): ConformanceReport {
  return { ...report, harnesses, claims };
}

/** Counts per status. */
export function summarize(results: readonly CaseResult[]): { pass: number; fail: number; skip: number } {
  const out = { pass: 0, fail: 0, skip: 0 };
  for (const r of results) out[r.status] += 1;
  return out;
}

/** Builds the JSON report of one engine's run. */
export function buildReport(
  engine: string,
  declared: { storage: StorageCapabilities; blobs: BlobCapabilities },
  results: readonly CaseResult[],
): ConformanceReport {
  return {
    suiteVersion: SUITE_VERSION,
    engine,
    declaredCapabilities: { storage: { ...declared.storage }, blobs: { ...declared.blobs } },
    summary: summarize(results),
    results: results.map((r) => ({
      id: r.id,
      area: r.area,
      title: r.title,
      ...(r.source !== undefined ? { source: r.source } : {}),
      ...(r.rule !== undefined ? { rule: [...r.rule] } : {}),
      status: r.status,
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      durationMs: r.durationMs,
    })),
  };
}

function xml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

/** JUnit XML: one testsuite per area, one testcase per case; skips carry their reason. */
export function toJUnit(reports: readonly ConformanceReport[]): string {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const total = reports.flatMap((r) => r.results);
  const all = summarize(total as CaseResult[]);
  lines.push(`<testsuites name="handlerton-conformance ${SUITE_VERSION}" tests="${total.length}" failures="${all.fail}" skipped="${all.skip}">`);
  for (const report of reports) {
    for (const area of AREAS) {
      const cases = report.results.filter((r) => r.area === area);
      if (cases.length === 0) continue;
      const s = summarize(cases as CaseResult[]);
      const time = cases.reduce((t, c) => t + c.durationMs, 0) / 1000;
      lines.push(`  <testsuite name="${xml(`${report.engine}.${area}`)}" tests="${cases.length}" failures="${s.fail}" skipped="${s.skip}" time="${time.toFixed(3)}">`);
      for (const c of cases) {
        const open = `    <testcase classname="${xml(`${report.engine}.${area}`)}" name="${xml(`${c.id}: ${c.title}`)}" time="${(c.durationMs / 1000).toFixed(3)}"`;
        if (c.status === 'pass') lines.push(`${open}/>`);
        else if (c.status === 'skip') lines.push(`${open}><skipped message="${xml(c.reason ?? '')}"/></testcase>`);
        else lines.push(`${open}><failure message="${xml((c.reason ?? '').split('\n')[0] ?? '')}">${xml(c.reason ?? '')}</failure></testcase>`);
      }
      lines.push('  </testsuite>');
    }
    if (report.claims !== undefined) lines.push(...claimsSuite(report.engine, report.claims));
  }
  lines.push('</testsuites>');
  return lines.join('\n') + '\n';
}

/** The engine x area matrix: pass / skip / fail counts per area, one row per engine. */
export function formatMatrix(reports: readonly ConformanceReport[]): string {
  const areas = AREAS.filter((a) => reports.some((r) => r.results.some((c) => c.area === a)));
  const cell = (report: ConformanceReport, area: string): string => {
    const s = summarize(report.results.filter((c) => c.area === area) as CaseResult[]);
    return `${s.pass}/${s.skip}/${s.fail}`;
  };
  const header = ['engine', ...areas, 'total'];
  const rows = reports.map((r) => [r.engine, ...areas.map((a) => cell(r, a)), `${r.summary.pass}/${r.summary.skip}/${r.summary.fail}`]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [
    'cells: pass/skip/fail',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}

/** The JUnit suite `<engine>.claims`: a verified claim passes, a failed one fails, "claimed, not verified" is a skip saying so. */
function claimsSuite(engine: string, claims: readonly ClaimVerdict[]): string[] {
  const shown = claims.filter((c) => c.status !== 'not claimed');
  const failures = shown.filter((c) => c.status === 'failed').length;
  const skipped = shown.filter((c) => c.status === 'claimed, not verified').length;
  const lines = [`  <testsuite name="${xml(`${engine}.claims`)}" tests="${shown.length}" failures="${failures}" skipped="${skipped}" time="0">`];
  for (const c of shown) {
    const open = `    <testcase classname="${xml(`${engine}.claims`)}" name="${xml(c.claim)}" time="0"`;
    if (c.status === 'verified') lines.push(`${open}/>`);
    else if (c.status === 'failed') lines.push(`${open}><failure message="${xml(describeVerdict(c))}"/></testcase>`);
    else lines.push(`${open}><skipped message="${xml(describeVerdict(c))}"/></testcase>`);
  }
  lines.push('  </testsuite>');
  return lines;
}
