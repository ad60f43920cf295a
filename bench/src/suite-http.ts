/**
 * The HTTP gateway rows of the plan (issue 17): 64 concurrent downloads of blobs of 1-100 MiB and 8
 * uploads through `serveBlobs`, on FileStorage2 and SQLite, next to a plain node:http +
 * fs.createReadStream server of the same files in the same trial; the gateway's event-loop p99
 * against its own idle p99, and its peak RSS.
 */
import type { FigureDef, JobParams, MetricRef } from './harness/types.js';

const MiB = 1024 * 1024;

/** What the plan builder lends this part. */
export interface HttpPlanTools {
  job(bench: string, params: JobParams, options?: { trials?: number; timeoutSec?: number }): string;
  fig(def: FigureDef): void;
  m(job: string, metric: string, name: string): MetricRef;
}

/** Adds the http.load jobs and figures; `biggestBlob` (the plan's largest blob size) caps the blob sizes of small plans at 100 MiB. */
export function addHttp(biggestBlob: number, seconds: number, { job, fig, m }: HttpPlanTools): void {
  const maxMiB = Math.min(100, Math.max(1, Math.floor(biggestBlob / MiB)));
  for (const [engine, label] of [['filestorage2', 'FileStorage2'], ['sqlite', 'SQLite']] as const) {
    const run = job('http.load', { engine, seconds, maxMiB, downloaders: 64, uploaders: 8, uploadMiB: 16 }, { trials: 1, timeoutSec: 600 });
    const load = `64 downloads of 1-${maxMiB} MiB blobs + 8 uploads of 16 MiB, ${seconds} s`;
    fig({
      id: `http.download.${engine}`, group: 'http', engine, unit: 'MiB/s',
      name: `${label}: HTTP gateway download throughput (${load})`,
      value: m(run, 'downloadMiBps', 'gateway downloads'),
      reference: m(run, 'plainDownloadMiBps', 'plain node:http + fs.createReadStream of the same files, same load'),
      target: { kind: 'ratioAtLeast', min: 0.7 }, targetText: '≥ 70% of the plain server', source: 'issue 17',
    });
    fig({
      id: `http.upload.${engine}`, group: 'http', engine, unit: 'MiB/s',
      name: `${label}: HTTP gateway upload throughput (POST /blobs, one transaction each; ${load})`,
      value: m(run, 'uploadMiBps', 'gateway uploads'),
      reference: m(run, 'plainUploadMiBps', 'plain server piping uploads to files'),
    });
    fig({
      id: `http.loop-p99.${engine}`, group: 'http', engine, unit: 'ms',
      name: `${label}: HTTP gateway server event-loop delay p99 under load (resolution 10 ms, included)`,
      value: m(run, 'loopP99', 'gateway under load'),
      reference: m(run, 'idleLoopP99', 'the same server idle'),
      target: { kind: 'refPlusAtMost', margin: 10 }, targetText: '≤ idle p99 + 10 ms', source: 'issue 17',
    });
    fig({
      id: `http.rss.${engine}`, group: 'http', engine, unit: 'MiB',
      name: `${label}: HTTP gateway server peak RSS under load`,
      value: m(run, 'peakRssMiB', 'gateway server peak RSS'),
      reference: m(run, 'plainPeakRssMiB', 'plain server peak RSS'),
      target: { kind: 'atMost', max: 128 }, targetText: '< 128 MiB', source: 'issue 17',
    });
  }
}
