/**
 * The minimal registrar every runner adapter implements, and the one function that registers the
 * catalogue through it. Registration is synchronous: gating reads only the static manifests.
 */
import { gate } from './gating.js';
import { executeCase, type RunOptions } from './runner.js';
import { selectCases, type SelectionOptions } from './selection.js';
import type { ConformanceCase, Harness } from './types.js';

/** What a runner adapter provides: register a runnable test, or a skipped one with its reason. */
export interface Registrar {
  test(title: string, body: () => Promise<void>, testCase: ConformanceCase): void;
  skip(title: string, reason: string, testCase: ConformanceCase): void;
}

/** Options of a registration. */
export interface ConformanceOptions extends SelectionOptions, RunOptions {
  /** Register cases left out by area/id filters or `exclude` as skipped (default: only `exclude`d ones). */
  readonly reportDeselected?: boolean;
}

/** The title a case is registered under. */
export function caseTitle(harness: Harness, testCase: ConformanceCase): string {
  return `${harness.name} › ${testCase.area} › ${testCase.id}${testCase.source ? ` [${testCase.source}]` : ''}: ${testCase.title}`;
}

/** Registers every case of the catalogue against `harness` through `registrar`. */
export function registerConformance(registrar: Registrar, harness: Harness, options: ConformanceOptions = {}): void {
  for (const { testCase, deselected, why } of selectCases(options)) {
    const title = caseTitle(harness, testCase);
    // Area and id filters are for local runs: filtered cases are left out of the runner's list unless
    // asked for; excluded ones are always shown as skipped with the harness's reason.
    if (deselected !== undefined) {
      if (why === 'excluded' || options.reportDeselected === true) registrar.skip(title, deselected, testCase);
      continue;
    }
    const decision = gate(testCase, harness);
    if (!decision.run) registrar.skip(title, decision.reason, testCase);
    else registrar.test(title, () => executeCase(testCase, harness, options), testCase);
  }
}
