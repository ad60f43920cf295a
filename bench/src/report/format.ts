/** Number formatting shared by the console table, Markdown and charts. */

/** Formats a number with sensible precision (thousands separated by a thin comma). */
export function fmt(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

/** Formats a ratio as "0.82×". */
export function fmtRatio(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}×`;
}

/** ✔ / ✘ / blank for a met flag. */
export function fmtMet(met: boolean | null): string {
  if (met === null) return '';
  return met ? 'met' : 'NOT met';
}

/** Escapes text for XML. */
export function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
