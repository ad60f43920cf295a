/** Turns job outcomes into figures: median/min/max, reference, ratio and whether the target is met. */
import { max, median, min } from './stats.js';
import type { Figure, FigureDef, JobOutcome, MetricRef, Target } from './types.js';

function samplesOf(outcomes: ReadonlyMap<string, JobOutcome>, ref: MetricRef): { values: readonly number[]; why?: string } {
  const outcome = outcomes.get(ref.job);
  if (outcome === undefined) return { values: [], why: 'not run' };
  if (outcome.unavailable !== undefined) return { values: [], why: outcome.unavailable };
  const values = (outcome.samples[ref.metric] ?? []).filter((v) => Number.isFinite(v));
  return values.length === 0 ? { values, why: `no "${ref.metric}" measured` } : { values };
}

function orNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** Text form of a target. */
export function targetText(def: FigureDef): string | null {
  if (def.targetText !== undefined) return def.targetText;
  const t = def.target;
  if (t === undefined) return null;
  if (t.kind === 'ratioAtLeast') return `ratio ≥ ${t.min}`;
  if (t.kind === 'atMost') return `≤ ${t.max} ${def.unit}`;
  return `≤ reference + ${t.margin} ${def.unit}`;
}

function judge(target: Target | undefined, value: number | null, reference: number | null): boolean | null {
  if (target === undefined || value === null) return null;
  if (target.kind === 'atMost') return value <= target.max;
  if (reference === null) return null;
  if (target.kind === 'ratioAtLeast') return reference > 0 ? value / reference >= target.min : null;
  return value <= reference + target.margin;
}

/** Computes every figure from the outcomes. */
export function computeFigures(defs: readonly FigureDef[], outcomes: ReadonlyMap<string, JobOutcome>): Figure[] {
  return defs.map((def) => {
    const v = samplesOf(outcomes, def.value);
    const r = def.reference !== undefined ? samplesOf(outcomes, def.reference) : undefined;
    const med = orNull(median(v.values));
    const refMed = r !== undefined ? orNull(median(r.values)) : null;
    const ratio = med !== null && refMed !== null && refMed !== 0 ? med / refMed : null;
    const figure: Figure = {
      id: def.id,
      name: def.name,
      unit: def.unit,
      group: def.group,
      ...(def.engine !== undefined ? { engine: def.engine } : {}),
      median: med,
      min: orNull(min(v.values)),
      max: orNull(max(v.values)),
      trials: v.values.length,
      reference:
        def.reference !== undefined && r !== undefined
          ? { name: def.reference.name, median: refMed, min: orNull(min(r.values)), max: orNull(max(r.values)) }
          : null,
      ratio,
      target: targetText(def),
      ...(def.target?.kind === 'ratioAtLeast' ? { targetRatio: def.target.min } : {}),
      met: judge(def.target, med, refMed),
      ...(v.why !== undefined ? { unavailable: v.why } : {}),
      ...(def.source !== undefined ? { source: def.source } : {}),
      ...(def.sweep !== undefined ? { sweep: def.sweep } : {}),
    };
    return figure;
  });
}
