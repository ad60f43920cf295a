/** A small SVG chart generator: line charts (log or linear axes) and ratio bar charts. */
import { fmt, fmtRatio, xml } from './format.js';

/** One line of a line chart. */
export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

/** Options of a line chart. */
export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly logX?: boolean;
  readonly logY?: boolean;
  /** Horizontal dashed lines (e.g. a target). */
  readonly guides?: readonly { readonly y: number; readonly label: string }[];
  readonly xTickLabel?: (x: number) => string;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];
const W = 720;
const H = 420;
const M = { left: 70, right: 170, top: 40, bottom: 50 };

function tick(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString('en-US') : fmt(v);
}

function scale(lo: number, hi: number, log: boolean, a: number, b: number): (v: number) => number {
  const f = (v: number): number => (log ? Math.log10(v) : v);
  const l = f(lo);
  const h = f(hi);
  return (v) => a + ((f(v) - l) / (h - l || 1)) * (b - a);
}

function niceTicks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e += 1) out.push(10 ** e);
    return out;
  }
  const span = hi - lo || 1;
  const step = 10 ** Math.floor(Math.log10(span / 5));
  const mult = [1, 2, 5, 10].find((k) => span / (step * k) <= 6) ?? 10;
  const s = step * mult;
  const out: number[] = [];
  for (let v = Math.ceil(lo / s) * s; v <= hi + 1e-9; v += s) out.push(v);
  return out;
}

/** Renders a line chart as an SVG document. */
export function lineChart(o: LineChartOptions): string {
  const pts = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const guides = o.guides ?? [];
  const xs = pts.map((p) => p[0]);
  const ys = [...pts.map((p) => p[1]), ...guides.map((g) => g.y)];
  const positive = (v: number): boolean => v > 0;
  let xLo = Math.min(...xs);
  let xHi = Math.max(...xs);
  let yLo = o.logY ? Math.min(...ys.filter(positive)) : Math.min(0, ...ys);
  let yHi = Math.max(...ys);
  if (!Number.isFinite(xLo)) [xLo, xHi] = [1, 10];
  if (!Number.isFinite(yLo) || !Number.isFinite(yHi)) [yLo, yHi] = [o.logY ? 1 : 0, 10];
  if (o.logY) {
    yLo = 10 ** Math.floor(Math.log10(yLo));
    yHi = 10 ** Math.ceil(Math.log10(yHi));
  } else yHi *= 1.1;
  if (o.logX) {
    xLo = 10 ** Math.floor(Math.log10(xLo));
    xHi = 10 ** Math.ceil(Math.log10(xHi));
  }
  const sx = scale(xLo, xHi, o.logX === true, M.left, W - M.right);
  const sy = scale(yLo, yHi, o.logY === true, H - M.bottom, M.top);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${xml(o.title)}</text>`);
  for (const t of niceTicks(yLo, yHi, o.logY === true)) {
    const y = sy(t);
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${y + 4}" text-anchor="end">${tick(t)}</text>`);
  }
  const xTicks = o.logX ? niceTicks(xLo, xHi, true) : [...new Set(xs)].sort((a, b) => a - b);
  for (const t of xTicks) {
    const x = sx(t);
    out.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${H - M.bottom + 16}" text-anchor="middle">${xml(o.xTickLabel ? o.xTickLabel(t) : tick(t))}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="black"/>`);
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="black"/>`);
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 12}" text-anchor="middle">${xml(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${xml(o.yLabel)}</text>`);
  for (const g of guides) {
    const y = sy(g.y);
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#888" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${W - M.right - 4}" y="${y - 4}" text-anchor="end" fill="#555">${xml(g.label)}</text>`);
  }
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logY || y > 0)).sort((a, b) => a[0] - b[0]);
    if (p.length > 0) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2.5" points="${p.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`);
      for (const [x, y] of p) {
        out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="4" fill="${color}"><title>${xml(`${s.name}: ${fmt(y)}`)}</title></circle>`);
      }
    }
    const ly = M.top + 10 + i * 20;
    out.push(`<rect x="${W - M.right + 14}" y="${ly - 8}" width="14" height="4" fill="${color}"/>`);
    out.push(`<text x="${W - M.right + 34}" y="${ly - 2}">${xml(s.name)}${p.length === 0 ? ' (n/a)' : ''}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** One bar of a ratio chart. */
export interface RatioBar {
  readonly label: string;
  readonly ratio: number | null;
  /** The minimum ratio the target asks for, if any. */
  readonly target?: number;
  readonly met: boolean | null;
}

/** Renders horizontal bars of ratios on a log axis, diverging from 1×, with target ticks. */
export function ratioChart(title: string, bars: readonly RatioBar[]): string {
  const rowH = 22;
  const left = 480;
  const right = 80;
  const width = 1000;
  const top = 50;
  const height = top + bars.length * rowH + 40;
  const values = bars.flatMap((b) => [b.ratio ?? 1, b.target ?? 1]).filter((v) => v > 0 && Number.isFinite(v));
  const lo = 10 ** Math.floor(Math.log10(Math.min(0.1, ...values)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(10, ...values)));
  const sx = scale(lo, hi, true, left, width - right);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${xml(title)}</text>`);
  out.push(`<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">value ÷ reference measured in the same run (log scale); ▏ = target; green met, red not met, grey no target</text>`);
  for (const t of niceTicks(lo, hi, true)) {
    const x = sx(t);
    out.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${height - 30}" stroke="${t === 1 ? '#000' : '#ddd'}"/>`);
    out.push(`<text x="${x}" y="${height - 14}" text-anchor="middle">${fmtRatio(t)}</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH + 4;
    out.push(`<text x="${left - 8}" y="${y + 12}" text-anchor="end">${xml(b.label)}</text>`);
    if (b.ratio === null || !(b.ratio > 0)) {
      out.push(`<text x="${sx(1) + 6}" y="${y + 12}" fill="#888">not available</text>`);
      return;
    }
    const x0 = sx(1);
    const x1 = sx(b.ratio);
    const color = b.met === null ? '#999' : b.met ? '#2ca02c' : '#d62728';
    out.push(`<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y}" width="${Math.max(1, Math.abs(x1 - x0)).toFixed(1)}" height="${rowH - 8}" fill="${color}"><title>${xml(`${b.label}: ${fmtRatio(b.ratio)}`)}</title></rect>`);
    out.push(`<text x="${(Math.max(x0, x1) + 4).toFixed(1)}" y="${y + 12}">${fmtRatio(b.ratio)}</text>`);
    if (b.target !== undefined) {
      const xt = sx(b.target);
      out.push(`<line x1="${xt.toFixed(1)}" x2="${xt.toFixed(1)}" y1="${y - 2}" y2="${y + rowH - 6}" stroke="black" stroke-width="2"/>`);
    }
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
