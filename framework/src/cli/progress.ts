/**
 * Progress of long CLI work on stderr: a cli-progress bar when stderr is a terminal (and --json is
 * off), nothing otherwise, so scripts and logs get only the result.
 */
import { SingleBar } from 'cli-progress';
import { Transform } from 'node:stream';

/** A running progress display. */
export interface Progress {
  /** Sets how much is done (and the total, once known). */
  update(done: number, total?: number): void;
  /** Removes the display. */
  stop(): void;
}

/** What the display writes to: stderr, or a test's stream. */
export interface ProgressStream extends NodeJS.WritableStream {
  readonly isTTY?: boolean;
  columns?: number;
  cursorTo?(x: number, y?: number): boolean;
  clearLine?(dir: -1 | 0 | 1): boolean;
  moveCursor?(dx: number, dy: number): boolean;
}

const QUIET: Progress = { update: () => {}, stop: () => {} };

/** Starts a progress display for `label` counting `unit` (e.g. "transactions", "bytes"); quiet unless `stream` is a terminal. */
export function startProgress(label: string, unit: string, options: { total?: number; quiet?: boolean; stream?: ProgressStream } = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.quiet === true || stream.isTTY !== true) return QUIET;
  const bar = new SingleBar({
    stream,
    format: options.total === undefined ? `${label} {value} ${unit}` : `${label} [{bar}] {percentage}% {value}/{total} ${unit}`,
    hideCursor: true,
    clearOnComplete: true,
    fps: 5,
  });
  bar.start(options.total ?? 0, 0);
  return {
    update(done, total) {
      if (total !== undefined) bar.setTotal(total);
      bar.update(done);
    },
    stop() {
      bar.stop();
    },
  };
}

/** A running display of work in phases whose total is unknown (pack, gc): phase, count and elapsed time. */
export interface PhaseProgress {
  /** Shows `done` `unit` in `phase`. */
  update(phase: string, done: number, unit: string): void;
  /** Removes the display. */
  stop(): void;
}

const QUIET_PHASES: PhaseProgress = { update: () => {}, stop: () => {} };

/** Starts a phase display for `label` (e.g. "gc: mark 1200 objects loaded, 3s"); quiet unless `stream` is a terminal. */
export function startPhaseProgress(label: string, options: { quiet?: boolean; stream?: ProgressStream } = {}): PhaseProgress {
  const stream = options.stream ?? process.stderr;
  if (options.quiet === true || stream.isTTY !== true) return QUIET_PHASES;
  const bar = new SingleBar({ stream, format: `${label}: {phase} {value} {unit}, {duration_formatted}`, hideCursor: true, clearOnComplete: true, fps: 5 });
  bar.start(0, 0, { phase: 'starting', unit: 'done' });
  return {
    update(phase, done, unit) {
      bar.update(done, { phase, unit });
    },
    stop() {
      bar.stop();
    },
  };
}

/** A pass-through stream that reports the bytes flowing through it to `progress`. */
export function countingStream(progress: Progress): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      progress.update(bytes);
      callback(null, chunk);
    },
  });
}
