/** Console table and per-figure sentences. */
import type { Figure } from '../harness/types.js';
import { fmt, fmtMet, fmtRatio } from './format.js';

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function range(f: Figure): string {
  return f.trials > 1 ? `[${fmt(f.min)}..${fmt(f.max)}]` : '';
}

/** A plain-text table of every figure. */
export function consoleTable(figures: readonly Figure[]): string {
  const rows: string[][] = [['figure', 'median', 'min..max', 'unit', 'n', 'reference', 'ratio', 'target', '']];
  for (const f of figures) {
    if (f.unavailable !== undefined) {
      rows.push([f.id, 'n/a', '', f.unit, '0', '', '', f.target ?? '', f.unavailable.slice(0, 80)]);
      continue;
    }
    rows.push([
      f.id,
      fmt(f.median),
      range(f),
      f.unit,
      String(f.trials),
      f.reference !== null ? `${fmt(f.reference.median)} (${f.reference.name})`.slice(0, 60) : '',
      fmtRatio(f.ratio),
      f.target ?? '',
      fmtMet(f.met),
    ]);
  }
  const widths = rows[0]?.map((_, c) => Math.min(64, Math.max(...rows.map((r) => (r[c] ?? '').length)))) ?? [];
  return rows.map((r) => r.map((cell, c) => pad(cell, widths[c] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** One sentence on where a figure stands against its target (or its reference when it has none). */
export function sentence(f: Figure): string {
  if (f.unavailable !== undefined) {
    return `**${f.name}**: not measured — ${f.unavailable}.${f.target !== null ? ` Target (${f.target}) not checked.` : ''}`;
  }
  const value = `${fmt(f.median)} ${f.unit}`;
  const ref =
    f.reference !== null && f.reference.median !== null
      ? `, ${fmtRatio(f.ratio)} ${f.reference.name} (${fmt(f.reference.median)})`
      : '';
  if (f.target === null) return `**${f.name}**: ${value}${ref}; no target, reported for comparison.`;
  const verdict = f.met === null ? 'cannot be judged (reference missing)' : f.met ? 'met' : '**not met**';
  return `**${f.name}**: ${value}${ref}; target ${f.target}${f.source !== undefined ? ` (${f.source})` : ''}: ${verdict}.`;
}
