/** A compact way to declare the cases of one area. */
import type { Area, ConformanceCase, Requirement } from '../types.js';

/** A case as written in an area file: id without the area prefix, requirements optional. */
export interface CaseSpec {
  readonly id: string;
  readonly title: string;
  readonly source?: string;
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
        requires: Object.freeze([...(spec.requires ?? [])]),
        ...(spec.unless !== undefined ? { unless: Object.freeze([...spec.unless]) } : {}),
        run: spec.run,
      }),
    ),
  );
}
