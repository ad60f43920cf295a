/** Builds the SVG charts from figures. */
import type { Figure } from '../harness/types.js';
import { lineChart, ratioChart, type Series } from './svg.js';

/** A chart file to write. */
export interface ChartFile {
  readonly file: string;
  readonly title: string;
  readonly svg: string;
}

function countLabel(n: number): string {
  if (n >= 1_000_000) return `${n / 1_000_000}M`;
  if (n >= 1000) return `${n / 1000}k`;
  return String(n);
}

function sweep(figures: readonly Figure[], chart: string): Series[] {
  const series = new Map<string, [number, number][]>();
  for (const f of figures) {
    if (f.sweep?.chart !== chart) continue;
    const points = series.get(f.sweep.series) ?? [];
    if (f.median !== null) points.push([f.sweep.x, f.median]);
    series.set(f.sweep.series, points);
  }
  return [...series].map(([name, points]) => ({ name, points }));
}

/** Every chart of a run. */
export function buildCharts(figures: readonly Figure[]): ChartFile[] {
  const charts: ChartFile[] = [];
  charts.push({
    file: 'open-time.svg',
    title: 'Open time versus database size',
    svg: lineChart({
      title: 'Open time vs database size (median)',
      xLabel: 'objects in the database',
      yLabel: 'open time, ms (log)',
      series: sweep(figures, 'open-time'),
      logX: true,
      logY: true,
      guides: [{ y: 100, label: 'FileStorage2 target at 1M: 100 ms' }],
      xTickLabel: countLabel,
    }),
  });
  charts.push({
    file: 'open-memory.svg',
    title: 'RSS growth at open versus database size',
    svg: lineChart({
      title: 'RSS growth at open vs database size (median)',
      xLabel: 'objects in the database',
      yLabel: 'RSS growth, MiB',
      series: sweep(figures, 'open-rss'),
      logX: true,
      guides: [{ y: 50, label: 'FileStorage2 target at 1M: 50 MiB' }],
      xTickLabel: countLabel,
    }),
  });
  const scale = sweep(figures, 'pg-scale');
  if (scale.some((series) => series.points.length > 0)) {
    charts.push({
      file: 'pg-scale.svg',
      title: 'PostgreSQL: total commit throughput versus client processes',
      svg: lineChart({
        title: 'PostgreSQL scale-out: total commits/s vs client processes (median)',
        xLabel: 'client processes',
        yLabel: 'commits/s (100 × 200 B)',
        series: scale,
        logX: true,
        xTickLabel: String,
      }),
    });
  }
  const throughput = figures.filter(
    (f) => ['commit', 'db', 'load', 'blob', 'pack', 'gc', 'postgres'].includes(f.group) && f.reference !== null && f.unit !== 'ms' && f.unit !== 'MiB',
  );
  charts.push({
    file: 'ratios.svg',
    title: 'Throughput ratios per workload',
    svg: ratioChart(
      'Throughput relative to the reference, per workload',
      throughput.map((f) => ({
        label: f.name.length > 66 ? `${f.name.slice(0, 64)}…` : f.name,
        ratio: f.ratio,
        met: f.met,
        ...(f.targetRatio !== undefined ? { target: f.targetRatio } : {}),
      })),
    ),
  });
  return charts;
}
