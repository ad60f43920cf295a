/** Which cases a run includes: area and id filters, from options or the environment. */
import { CATALOGUE } from './catalogue.js';
import { AREAS, type Area, type ConformanceCase } from './types.js';
import { InvalidArgumentError } from '@handlerton/framework';

/** The environment variable that selects areas for local runs (comma-separated area ids). */
export const AREAS_ENV = 'HANDLERTON_CONFORMANCE_AREAS';
/** The environment variable that selects single cases (comma-separated ids or id prefixes). */
export const ONLY_ENV = 'HANDLERTON_CONFORMANCE_ONLY';

/** Filters for a run. */
export interface SelectionOptions {
  /** Areas to run; default: every area, or those in HANDLERTON_CONFORMANCE_AREAS. */
  readonly areas?: readonly Area[];
  /** Case ids (or id prefixes) to run; default: all, or those in HANDLERTON_CONFORMANCE_ONLY. */
  readonly only?: readonly string[];
  /** Cases to report as skipped with a reason, keyed by id (known failures under investigation). */
  readonly exclude?: Readonly<Record<string, string>>;
}

/** A case with the reason it is left out of this run, if it is. */
export interface SelectedCase {
  readonly testCase: ConformanceCase;
  readonly deselected?: string;
  /** 'filtered' (left out by an area or id filter) or 'excluded' (listed by the harness with a reason). */
  readonly why?: 'filtered' | 'excluded';
}

function fromEnv(name: string): string[] | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Parses a comma-separated area list; InvalidArgumentError names an unknown area. */
export function parseAreas(list: readonly string[]): Area[] {
  for (const a of list) {
    if (!(AREAS as readonly string[]).includes(a)) {
      throw new InvalidArgumentError(`unknown conformance area "${a}" (areas: ${AREAS.join(', ')})`);
    }
  }
  return list as Area[];
}

/** Every case of the catalogue, each marked with the reason it is deselected (if it is). */
export function selectCases(options: SelectionOptions = {}, catalogue: readonly ConformanceCase[] = CATALOGUE): SelectedCase[] {
  const areaList = options.areas ?? (fromEnv(AREAS_ENV) ? parseAreas(fromEnv(AREAS_ENV) ?? []) : undefined);
  const only = options.only ?? fromEnv(ONLY_ENV);
  return catalogue.map((testCase) => {
    if (areaList !== undefined && !areaList.includes(testCase.area)) {
      return { testCase, why: 'filtered', deselected: `area ${testCase.area} not selected (${areaList.join(',')})` };
    }
    if (only !== undefined && !only.some((p) => testCase.id === p || testCase.id.startsWith(p))) {
      return { testCase, why: 'filtered', deselected: 'case not selected by the id filter' };
    }
    const excluded = options.exclude?.[testCase.id];
    if (excluded !== undefined) return { testCase, why: 'excluded', deselected: `excluded by the harness: ${excluded}` };
    return { testCase };
  });
}
