/** Event-loop delay measurement (perf_hooks.monitorEventLoopDelay, 10 ms resolution). */
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Event-loop delay summary in ms; values include the 10 ms sampling interval. */
export interface LoopDelay {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Starts monitoring the event loop; call the returned function to stop and read the summary. */
export function watchEventLoop(): () => LoopDelay {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return () => {
    histogram.disable();
    const ms = (ns: number): number => ns / 1e6;
    return { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) };
  };
}
