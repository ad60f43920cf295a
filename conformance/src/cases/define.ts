/** A compact way to declare the cases of one area. */
import type { Area, ConformanceCase, Requirement, RuleCitation } from '../types.js';

/** A case as written in an area file: id without the area prefix, requirements optional. */
export interface CaseSpec {
  readonly id: string;
  readonly title: string;
  readonly source?: string;
  /** The contract rules the case checks (see ConformanceCase.rule); every case has at least one. */
  readonly rule?: readonly RuleCitation[];
  readonly requires?: readonly Requirement[];
  readonly unless?: readonly Requirement[];
  readonly run: ConformanceCase['run'];
}

/** Builds the frozen cases of `area`; ids become `<area>.<id>`. */
export function defineArea(area: Area, specs: readonly CaseSpec[]): readonly ConformanceCase[] {
  return Object.freeze(
    specs.map((spec) =>
      Object.freeze({
        id: `${area}.${spec.id}`,
        area,
        title: spec.title,
        ...(spec.source !== undefined ? { source: spec.source } : {}),
        rule: Object.freeze([...(spec.rule ?? [])]),
        requires: Object.freeze([...(spec.requires ?? [])]),
        ...(spec.unless !== undefined ? { unless: Object.freeze([...spec.unless]) } : {}),
        run: spec.run,
      }),
    ),
  );
}
